#pragma once
// CPU references of the row normalisations (double accumulation). Weights are given as
// floats: callers widen f16/bf16 weights first (the GPU sees exactly those values).
#include <cstdint>
#include <span>
#include <vector>

namespace smolvk::ops::ref {

// x: [rows, cols] row-major.
std::vector<float> rms_norm(std::span<const float> x, std::span<const float> weight,
                            int64_t rows, int64_t cols, float eps);
std::vector<float> layer_norm(std::span<const float> x, std::span<const float> weight,
                              std::span<const float> bias, int64_t rows, int64_t cols, float eps);

// Rounding helpers for 16-bit weights (round to nearest even), and their widening.
uint16_t to_bf16(float v);
float from_bf16(uint16_t h);
uint16_t to_f16(float v);
float from_f16(uint16_t h);

}  // namespace smolvk::ops::ref
