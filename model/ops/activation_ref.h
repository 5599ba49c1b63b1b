#pragma once
// CPU references of the elementwise ops (double math, rounded to float).
#include <cstdint>
#include <span>
#include <vector>

namespace smolvk::ops::ref {

std::vector<float> gelu_tanh(std::span<const float> x);
// gate_up: [rows, 2I] → [rows, I]
std::vector<float> swiglu(std::span<const float> gate_up, int64_t rows, int64_t inter);
std::vector<float> add(std::span<const float> a, std::span<const float> b);

}  // namespace smolvk::ops::ref
