#include "model/ops/splice_ref.h"

namespace smolvk::ops::ref {

std::vector<float> splice(std::span<const float> text, std::span<const float> image, std::span<const int32_t> targets,
                          int64_t hidden) {
  std::vector<float> out(text.begin(), text.end());
  const int64_t rows = int64_t(text.size()) / hidden;
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] < 0 || targets[r] >= rows) continue;
    for (int64_t h = 0; h < hidden; ++h) out[size_t(targets[r] * hidden + h)] = image[r * hidden + h];
  }
  return out;
}

}  // namespace smolvk::ops::ref
