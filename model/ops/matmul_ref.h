#pragma once
// CPU twin of ops::matmul, plus the weight rounding the GPU sees for f16/bf16 storage.
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/dtype.h"

namespace smolvk::ops {

// y[m * y_stride + y_col + n] = (accumulate ? y[...] : 0) + bias[n] + Σ_k x[m*K + k] · w[n*K + k]
// in double. bias may be empty; y_stride 0 means N. Throws std::invalid_argument on sizes.
void matmul_ref(std::span<const float> x, std::span<const float> w, std::span<const float> bias, std::span<float> y,
                int64_t M, int64_t N, int64_t K, bool accumulate = false, int64_t y_stride = 0, int64_t y_col = 0);

// IEEE binary16 and bfloat16 conversions, round to nearest even.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float bf16_to_f32(uint16_t h);

// Values stored as `dtype` (f32, f16 or bf16): the bytes to upload and the values the GPU
// will read back from them.
struct PackedWeights {
  std::vector<uint8_t> bytes;
  std::vector<float> rounded;
};
PackedWeights pack_weights(std::span<const float> values, DType dtype);

}  // namespace smolvk::ops
