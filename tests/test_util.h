#pragma once
// Shared by every test binary: one Context per process (validation on via SMOLVK_VALIDATION),
// fixture paths, and small numeric helpers.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>

#include "runtime/context.h"

namespace smolvk::test {

Context& context();  // created on first use
bool context_created();
void destroy_context();
// tests/data; $SMOLVK_TEST_DATA overrides it (binaries run from another checkout).
inline std::filesystem::path data_dir() {
  const char* env = std::getenv("SMOLVK_TEST_DATA");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(SMOLVK_TEST_DATA);
}

// Σ(a−b)² / Σa² — llama.cpp's normalised error.
inline double nmse(std::span<const float> ref, std::span<const float> got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double d = double(ref[i]) - double(got[i]);
    num += d * d;
    den += double(ref[i]) * double(ref[i]);
  }
  return den > 0 ? num / den : num;
}
// max |a−b| / max(|a|) over the whole tensor.
inline double max_rel_error(std::span<const float> ref, std::span<const float> got) {
  double maxd = 0, maxa = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    maxd = std::max(maxd, std::fabs(double(ref[i]) - double(got[i])));
    maxa = std::max(maxa, std::fabs(double(ref[i])));
  }
  return maxa > 0 ? maxd / maxa : maxd;
}

}  // namespace smolvk::test
