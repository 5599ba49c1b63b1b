#include "model/ops/norm_ref.h"

#include <cmath>

namespace smolvk::ops::ref {

std::vector<float> rms_norm(std::span<const float> x, std::span<const float> weight, int64_t rows, int64_t cols,
                            float eps) {
  std::vector<float> y(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    double ss = 0;
    for (int64_t c = 0; c < cols; ++c) ss += double(xr[c]) * xr[c];
    const double rstd = 1.0 / std::sqrt(ss / double(cols) + eps);
    for (int64_t c = 0; c < cols; ++c) y[size_t(r * cols + c)] = float(weight[c] * (xr[c] * rstd));
  }
  return y;
}

std::vector<float> layer_norm(std::span<const float> x, std::span<const float> weight, std::span<const float> bias,
                              int64_t rows, int64_t cols, float eps) {
  std::vector<float> y(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    double mean = 0;
    for (int64_t c = 0; c < cols; ++c) mean += xr[c];
    mean /= double(cols);
    double var = 0;
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    const double rstd = 1.0 / std::sqrt(var / double(cols) + eps);
    for (int64_t c = 0; c < cols; ++c) y[size_t(r * cols + c)] = float((xr[c] - mean) * rstd * weight[c] + bias[c]);
  }
  return y;
}

}  // namespace smolvk::ops::ref
