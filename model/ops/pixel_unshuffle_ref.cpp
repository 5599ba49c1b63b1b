#include "model/ops/pixel_unshuffle_ref.h"

#include <cmath>

namespace smolvk::ops::ref {

namespace {
// permute(0, 2, 1, 3) of a contiguous [a, b, c, d] tensor → contiguous [a, c, b, d].
std::vector<float> swap12(const std::vector<float>& t, int64_t a, int64_t b, int64_t c, int64_t d) {
  std::vector<float> out(t.size());
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < c; ++k)
        for (int64_t l = 0; l < d; ++l)
          out[size_t(((i * c + k) * b + j) * d + l)] = t[size_t(((i * b + j) * c + k) * d + l)];
  return out;
}
}  // namespace

std::vector<float> pixel_unshuffle(std::span<const float> x, int64_t n, int64_t seq, int64_t dim, int64_t scale) {
  const auto side = int64_t(std::llround(std::sqrt(double(seq))));
  std::vector<float> t(x.begin(), x.end());
  // view (n, side, side, dim) → view (n, side, side/s, dim·s) → permute(0,2,1,3)
  t = swap12(t, n, side, side / scale, dim * scale);
  // reshape (n, side/s, side/s, dim·s²) → permute(0,2,1,3)
  t = swap12(t, n, side / scale, side / scale, dim * scale * scale);
  return t;  // reshape (n, seq/s², dim·s²) is free
}

}  // namespace smolvk::ops::ref
