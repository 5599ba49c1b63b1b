#include "model/ops/matmul_ref.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace smolvk::ops {

void matmul_ref(std::span<const float> x, std::span<const float> w, std::span<const float> bias, std::span<float> y,
                int64_t M, int64_t N, int64_t K, bool accumulate, int64_t y_stride, int64_t y_col) {
  if (y_stride == 0) y_stride = N;
  const std::string dims = " (M " + std::to_string(M) + ", N " + std::to_string(N) + ", K " + std::to_string(K) + ")";
  if (M < 0 || N < 0 || K < 0 || y_col < 0 || y_col + N > y_stride)
    throw std::invalid_argument("matmul_ref: bad dims or column range" + dims);
  if (x.size() < size_t(M * K) || w.size() < size_t(N * K) || (!bias.empty() && bias.size() < size_t(N)) ||
      y.size() < size_t(M * y_stride))
    throw std::invalid_argument("matmul_ref: a buffer is smaller than its shape" + dims);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = bias.empty() ? 0.0 : double(bias[n]);
      for (int64_t k = 0; k < K; ++k) acc += double(x[m * K + k]) * double(w[n * K + k]);
      float& out = y[m * y_stride + y_col + n];
      out = float(accumulate ? double(out) + acc : acc);
    }
  }
}

uint16_t f32_to_f16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN, inf
  if (a >= 0x477ff000u) return sign | 0x7c00u;                                // 65520 and up round to inf
  if (a < 0x38800000u) {  // below 2^-14: a half subnormal, in units of 2^-24 (exact scaling)
    return sign | uint16_t(std::nearbyint(std::bit_cast<float>(a) * 16777216.0f));
  }
  const uint32_t rounded = a + 0xfffu + ((a >> 13) & 1u);
  return sign | uint16_t((rounded - 0x38000000u) >> 13);  // exponent bias 127 -> 15
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = float(mant) / 16777216.0f;
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t f32_to_bf16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // quiet NaN
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

PackedWeights pack_weights(std::span<const float> values, DType dtype) {
  PackedWeights p;
  p.rounded.resize(values.size());
  switch (dtype) {
    case DType::F32:
      p.bytes.resize(values.size() * 4);
      std::memcpy(p.bytes.data(), values.data(), p.bytes.size());
      p.rounded.assign(values.begin(), values.end());
      return p;
    case DType::F16:
    case DType::BF16: {
      p.bytes.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h = dtype == DType::F16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
        std::memcpy(p.bytes.data() + 2 * i, &h, 2);
        p.rounded[i] = dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return p;
    }
    default:
      throw std::invalid_argument("pack_weights: dtype " + std::string(dtype_name(dtype)) + " is not f32, f16 or bf16");
  }
}

}  // namespace smolvk::ops
