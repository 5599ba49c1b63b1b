#pragma once
// Inputs and transfers shared by the op tests.
#include <random>
#include <vector>

#include "runtime/context.h"

namespace smolvk::test {

// Uniform in [lo, hi), reproducible per seed.
inline std::vector<float> random_uniform(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// Uniform in [-range, range), reproducible per seed.
inline std::vector<float> random_floats(size_t n, uint32_t seed, float range = 2.0f) {
  return random_uniform(n, seed, -range, range);
}

template <class T>
Buffer upload(Context& ctx, const std::vector<T>& v) {
  Buffer b = ctx.create_buffer(v.size() * sizeof(T));
  ctx.upload(b, v.data(), v.size() * sizeof(T));
  return b;
}

inline std::vector<float> download(Context& ctx, const Buffer& b, size_t n) {
  std::vector<float> v(n);
  ctx.download(b, v.data(), n * 4);
  return v;
}

}  // namespace smolvk::test
