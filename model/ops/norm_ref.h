#pragma once
// CPU references of the row normalisations (double accumulation). Weights are given as
// floats: callers widen f16/bf16 weights first (the GPU sees exactly those values).
#include <cstdint>
#include <span>
#include <vector>

namespace smolvk::ops::ref {

// x: [rows, cols] row-major.
std::vector<float> rms_norm(std::span<const float> x, std::span<const float> weight, int64_t rows, int64_t cols,
                            float eps);
std::vector<float> layer_norm(std::span<const float> x, std::span<const float> weight, std::span<const float> bias,
                              int64_t rows, int64_t cols, float eps);

}  // namespace smolvk::ops::ref
