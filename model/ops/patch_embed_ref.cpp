#include "model/ops/patch_embed_ref.h"

#include <algorithm>

namespace smolvk::ops::ref {

std::vector<float> im2col(std::span<const float> pixels, int64_t n, int64_t c, int64_t h, int64_t w, int64_t patch) {
  const int64_t ph = h / patch, pw = w / patch, k = c * patch * patch;
  std::vector<float> out(size_t(n * ph * pw * k));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t py = 0; py < ph; ++py)
      for (int64_t px = 0; px < pw; ++px)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t ky = 0; ky < patch; ++ky)
            for (int64_t kx = 0; kx < patch; ++kx) {
              const int64_t tok = (b * ph + py) * pw + px;
              const int64_t f = (ch * patch + ky) * patch + kx;
              out[size_t(tok * k + f)] = pixels[size_t(((b * c + ch) * h + py * patch + ky) * w + px * patch + kx)];
            }
  return out;
}

std::vector<float> add_position_embedding(std::span<const float> x, std::span<const float> table,
                                          std::span<const int32_t> ids, int64_t hidden) {
  const int64_t rows = int64_t(table.size()) / hidden;
  std::vector<float> y(x.begin(), x.end());
  for (size_t t = 0; t < ids.size(); ++t) {
    const int64_t id = std::clamp<int64_t>(ids[t], 0, rows - 1);
    for (int64_t h = 0; h < hidden; ++h) y[t * hidden + h] += table[size_t(id * hidden + h)];
  }
  return y;
}

}  // namespace smolvk::ops::ref
