#pragma once
// Shared by every test binary: one Context per process (validation on via SMOLVK_VALIDATION),
// fixture paths, and small numeric helpers.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <span>
#include <string>

#include "runtime/context.h"

namespace smolvk::test {

Context& context();  // created on first use
bool context_created();
void destroy_context();
// tests/data; $SMOLVK_TEST_DATA overrides it (binaries run from another checkout).
// An H100 / H200's limits as the kernel choices read them (subgroups of 32 with shuffles, 1,024
// invocations, 48 KiB of shared memory), without tensor cores until a test turns them on.
inline Capabilities h100_like_caps() {
  Capabilities c;
  c.subgroup_size = 32;
  c.subgroup_shuffle = true;
  c.max_workgroup_invocations = 1024;
  c.max_workgroup_size = {1024, 1024, 64};
  c.max_shared_memory = 48 * 1024;
  return c;
}

inline std::filesystem::path data_dir() {
  const char* env = std::getenv("SMOLVK_TEST_DATA");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(SMOLVK_TEST_DATA);
}

// Numeric comparisons. Both return +infinity — which fails every `EXPECT_LE(err, tol)` —
// when the arrays differ in size, are empty, or either holds a NaN or ±Inf anywhere: a
// kernel that writes NaN must never look like a perfect match (std::max(x, NaN) keeps x).
// compare_problem() says which: use it in a failure message, or use expect_close().

// "" when the two arrays can be compared, else what is wrong (size, first non-finite index).
inline std::string compare_problem(std::span<const float> ref, std::span<const float> got) {
  if (ref.size() != got.size())
    return "size mismatch: reference has " + std::to_string(ref.size()) + " values, result has " +
           std::to_string(got.size());
  if (ref.empty()) return "both arrays are empty";
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i]))
      return "result[" + std::to_string(i) + "] = " + std::to_string(got[i]) + " (reference " + std::to_string(ref[i]) +
             ")";
    if (!std::isfinite(ref[i])) return "reference[" + std::to_string(i) + "] = " + std::to_string(ref[i]);
  }
  return {};
}

// Σ(a−b)² / Σa² — llama.cpp's normalised error; +inf when not comparable (above).
inline double nmse(std::span<const float> ref, std::span<const float> got) {
  if (!compare_problem(ref, got).empty()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double d = double(ref[i]) - double(got[i]);
    num += d * d;
    den += double(ref[i]) * double(ref[i]);
  }
  return den > 0 ? num / den : num;
}
// max |a−b|; +inf when not comparable (above).
inline double max_abs_error(std::span<const float> ref, std::span<const float> got) {
  if (!compare_problem(ref, got).empty()) return std::numeric_limits<double>::infinity();
  double maxd = 0;
  for (size_t i = 0; i < ref.size(); ++i) maxd = std::max(maxd, std::fabs(double(ref[i]) - double(got[i])));
  return maxd;
}
// max |a−b| / max(|a|) over the whole tensor; +inf when not comparable (above).
inline double max_rel_error(std::span<const float> ref, std::span<const float> got) {
  if (!compare_problem(ref, got).empty()) return std::numeric_limits<double>::infinity();
  double maxd = 0, maxa = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    maxd = std::max(maxd, std::fabs(double(ref[i]) - double(got[i])));
    maxa = std::max(maxa, std::fabs(double(ref[i])));
  }
  return maxa > 0 ? maxd / maxa : maxd;
}
// Index of the largest |a−b| (the first one on ties); ref.size() when not comparable.
inline size_t worst_index(std::span<const float> ref, std::span<const float> got) {
  if (!compare_problem(ref, got).empty()) return ref.size();
  size_t at = 0;
  double maxd = -1;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(double(ref[i]) - double(got[i]));
    if (d > maxd) maxd = d, at = i;
  }
  return at;
}

}  // namespace smolvk::test
