// One libFuzzer binary per target: -DSMOLVK_FUZZ_TARGET=<name from fuzz_targets.h>.
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return smolvk::fuzz::SMOLVK_FUZZ_TARGET(data, size);
}
