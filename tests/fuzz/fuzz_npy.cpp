// parse_npy on arbitrary bytes: magic, version, header dict, dtype, shape × size == data.
#include <span>

#include "loader/error.h"
#include "loader/npy.h"
#include "tests/fuzz/fuzz_targets.h"

namespace smolvk::fuzz {

int npy(const uint8_t* data, size_t size) {
  try {
    const NpyArray a = parse_npy(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz.npy");
    const size_t have = a.is_float() ? a.floats.size() : a.ints.size();
    if (have != a.numel()) violated("npy element count");
  } catch (const LoadError&) {
  }
  return 0;
}

}  // namespace smolvk::fuzz
