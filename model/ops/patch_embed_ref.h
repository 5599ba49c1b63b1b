#pragma once
// CPU references of the patch-embedding glue.
#include <cstdint>
#include <span>
#include <vector>

namespace smolvk::ops::ref {

// pixels [N, C, H, W] → [N, (H/p)·(W/p), C·p·p] (see ops::im2col).
std::vector<float> im2col(std::span<const float> pixels, int64_t n, int64_t c, int64_t h, int64_t w, int64_t patch);
// x [N·S, H] + table[clamp(ids)] (table widened to float).
std::vector<float> add_position_embedding(std::span<const float> x, std::span<const float> table,
                                          std::span<const int32_t> ids, int64_t hidden);

}  // namespace smolvk::ops::ref
