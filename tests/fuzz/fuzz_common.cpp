#include <cstdlib>

#include "tests/fuzz/fuzz_targets.h"

namespace smolvk::fuzz {

std::filesystem::path data_dir() {
  const char* env = std::getenv("SMOLVK_TEST_DATA");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(SMOLVK_TEST_DATA);
}

}  // namespace smolvk::fuzz
