#pragma once
// CPU reference of the connector's pixel_shuffle, written as transformers' chain of views
// and permutes (not the closed-form element map the shader uses), so the two check each other.
#include <cstdint>
#include <span>
#include <vector>

namespace smolvk::ops::ref {

// x [N, S, D] → [N, S/s², D·s²]
std::vector<float> pixel_unshuffle(std::span<const float> x, int64_t n, int64_t seq, int64_t dim, int64_t scale);

}  // namespace smolvk::ops::ref
