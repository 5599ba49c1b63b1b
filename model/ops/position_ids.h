#pragma once
// Host-side vision bookkeeping, exactly as transformers' Idefics3 / SmolVLM vision embeddings
// compute it (in float32): which patches of a tile are real and which row of the position
// table each one uses, and which tiles of a padded batch are real at all.
#include <cstdint>
#include <span>
#include <vector>

namespace smolvk::ops {

struct PatchLayout {
  int64_t tiles = 0;                  // N
  int64_t grid_rows = 0;              // H / patch
  int64_t grid_cols = 0;              // W / patch
  int64_t seq = 0;                    // S = grid_rows · grid_cols
  std::vector<int32_t> position_ids;  // [N, S]: row of the position table, 0 for padding
  std::vector<int32_t> valid;         // [N, S]: 1 = real patch (a valid key), 0 = padding
};

// pixel_mask: [N, H, W], nonzero = real pixel. A patch is real if ANY pixel of its block is.
// Per tile, nh / nw = real patches in the first column / row; fractional coordinates
// arange(0, 1 − 1e-6, 1/nh) are bucketed (right=True) over boundaries
// arange(1/P, 1, 1/P), P = patches_per_side, both as torch builds them in float32, and the
// ids bucket_h·P + bucket_w fill the real patches in row-major order. Throws
// std::invalid_argument on bad sizes, or when the real patches of a tile do not form the
// nh × nw block transformers expects.
PatchLayout patch_layout(std::span<const uint8_t> pixel_mask, int64_t n, int64_t height, int64_t width, int patch,
                         int patches_per_side);

// Indices of the tiles of pixel_values [N, C, H, W] that are not batch padding (padding =
// every value exactly 0.0). Like transformers, keeps tile 0 when all are padding.
std::vector<int> real_tiles(std::span<const float> pixel_values, int64_t n, int64_t channels, int64_t height,
                            int64_t width);

}  // namespace smolvk::ops
