#include "model/ops/activation_ref.h"

#include <cmath>

namespace smolvk::ops::ref {

std::vector<float> gelu_tanh(std::span<const float> x) {
  const double k = std::sqrt(2.0 / M_PI);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    y[i] = float(0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))));
  }
  return y;
}

std::vector<float> swiglu(std::span<const float> gate_up, int64_t rows, int64_t inter) {
  std::vector<float> y(size_t(rows * inter));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < inter; ++c) {
      const double gate = gate_up[size_t(r * 2 * inter + c)];
      const double up = gate_up[size_t(r * 2 * inter + inter + c)];
      y[size_t(r * inter + c)] = float(gate / (1.0 + std::exp(-gate)) * up);
    }
  return y;
}

std::vector<float> add(std::span<const float> a, std::span<const float> b) {
  std::vector<float> y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

}  // namespace smolvk::ops::ref
