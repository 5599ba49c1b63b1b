#pragma once
// Small helpers for helper-E op tests: random data, 16-bit packing, upload / download.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "model/ops/common.h"
#include "model/ops/matmul_ref.h"
#include "model/ops/norm_ref.h"
#include "tests/test_util.h"

namespace smolvk::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A device buffer holding `bytes` (+4 bytes of slack, so 16-bit tensors with an odd element
// count can be bound as whole words).
inline Buffer upload_bytes(const void* data, size_t bytes) {
  Context& ctx = context();
  Buffer b = ctx.create_buffer((bytes + 4 + 3) / 4 * 4);
  ctx.fill_zero(b);
  if (bytes) ctx.upload(b, data, bytes);
  return b;
}
template <class T>
Buffer upload(const std::vector<T>& v) {
  return upload_bytes(v.data(), v.size() * sizeof(T));
}

template <class T>
std::vector<T> download(const Buffer& b, size_t n) {
  std::vector<T> v(n);
  context().download(b, v.data(), n * sizeof(T));
  return v;
}

// Values rounded to `t` (what the GPU reads) and their packed bytes.
struct Packed {
  std::vector<float> values;
  std::vector<uint8_t> bytes;
};
inline Packed pack(const std::vector<float>& v, DType t) {
  Packed p;
  p.values.resize(v.size());
  p.bytes.resize(v.size() * dtype_size(t));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::F32) {
      p.values[i] = v[i];
      std::memcpy(&p.bytes[i * 4], &v[i], 4);
    } else {
      const uint16_t h = t == DType::BF16 ? ops::f32_to_bf16(v[i]) : ops::f32_to_f16(v[i]);
      p.values[i] = t == DType::BF16 ? ops::bf16_to_f32(h) : ops::f16_to_f32(h);
      std::memcpy(&p.bytes[i * 2], &h, 2);
    }
  }
  return p;
}

inline ops::Tensor tensor(Graph& g, const Buffer& b, DType t, std::vector<int64_t> shape) {
  return ops::external(g, b, t, std::move(shape));
}

}  // namespace smolvk::test
