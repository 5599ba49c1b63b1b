#include <gtest/gtest.h>

#include <numeric>

#include "model/ops/position_ids.h"

using namespace smolvk;

// A full grid gives 0 … P²−1 in fp32 (transformers' measured behaviour for 32×32 and 27×27).
TEST(PositionIds, FullGridIsIdentity) {
  for (auto [px, patch] : {std::pair<int, int>{512, 16}, {384, 14}, {64, 16}}) {
    const int P = px / patch;
    std::vector<uint8_t> mask(size_t(2 * px * px), 1);
    const auto L = ops::patch_layout(mask, 2, px, px, patch, P);
    ASSERT_EQ(L.seq, int64_t(P) * P);
    std::vector<int32_t> want(size_t(2 * L.seq));
    for (size_t i = 0; i < want.size(); ++i) want[i] = int32_t(i % size_t(L.seq));
    EXPECT_EQ(L.position_ids, want) << px << "/" << patch;
    EXPECT_EQ(std::accumulate(L.valid.begin(), L.valid.end(), 0), 2 * L.seq);
  }
}

// A 40×20-pixel real region of a 64×64 tile, patch 16, P = 4: a 3×2 block of real patches
// (the third row holds only 8 real pixel rows, the second column only 4 real columns).
// frac_h = [0, 1/3, 2/3] → buckets [0, 1, 2]; frac_w = [0, 0.5] → [0, 2] (0.5 is a boundary
// and right=True counts it).
TEST(PositionIds, PartialTileByHand) {
  const int H = 64, W = 64;
  std::vector<uint8_t> mask(size_t(H * W), 0);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 20; ++x) mask[size_t(y * W + x)] = 1;
  const auto L = ops::patch_layout(mask, 1, H, W, 16, 4);
  const std::vector<int32_t> ids{0, 2, 0, 0, 4, 6, 0, 0, 8, 10, 0, 0, 0, 0, 0, 0};
  const std::vector<int32_t> valid{1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(L.position_ids, ids);
  EXPECT_EQ(L.valid, valid);
}

// 2.2B-shaped grid (P = 27) with a 9×9 real block: i/9 equals the boundary 3i/27 exactly in
// rationals; torch's float32 values put it in bucket 3i.
TEST(PositionIds, FloatBoundariesLikeTorch) {
  const int patch = 14, P = 27, px = 378;
  std::vector<uint8_t> mask(size_t(px * px), 0);
  for (int y = 0; y < 9 * patch; ++y)
    for (int x = 0; x < 9 * patch; ++x) mask[size_t(y * px + x)] = 1;
  const auto L = ops::patch_layout(mask, 1, px, px, patch, P);
  for (int i = 0; i < 9; ++i)
    for (int j = 0; j < 9; ++j) EXPECT_EQ(L.position_ids[size_t(i * P + j)], 3 * i * P + 3 * j) << i << "," << j;
}

TEST(PositionIds, OneRealPixelMakesAPatchReal) {
  std::vector<uint8_t> mask(size_t(2 * 32 * 32), 1);
  // Tile 1: everything off but the last pixel of patch (0, 0).
  std::fill(mask.begin() + 1024, mask.end(), 0);
  mask[1024 + 15 * 32 + 15] = 1;
  const auto L = ops::patch_layout(mask, 2, 32, 32, 16, 2);
  EXPECT_EQ(L.valid, (std::vector<int32_t>{1, 1, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(L.position_ids, (std::vector<int32_t>{0, 1, 2, 3, 0, 0, 0, 0}));
}

TEST(PositionIds, RejectsBadInput) {
  std::vector<uint8_t> mask(size_t(32 * 32), 0);
  EXPECT_THROW(ops::patch_layout(mask, 2, 32, 32, 16, 2), std::invalid_argument);  // size
  EXPECT_THROW(ops::patch_layout(mask, 1, 32, 32, 0, 2), std::invalid_argument);   // patch
  // An L-shaped real region is not the block transformers can index.
  for (int y = 0; y < 32; ++y) mask[size_t(y * 32)] = 1;
  for (int x = 0; x < 32; ++x) mask[size_t(x)] = 1;
  EXPECT_THROW(ops::patch_layout(mask, 1, 32, 32, 16, 2), std::invalid_argument);
}

TEST(PositionIds, RealTilesDropsAllZeroTiles) {
  const int64_t per = 3 * 4 * 4;
  std::vector<float> px(size_t(4 * per), 0.0f);
  std::fill(px.begin(), px.begin() + per, 0.5f);
  px[size_t(2 * per + per - 1)] = -1.0f;  // one nonzero value is enough
  px[size_t(3 * per + 7)] = -0.0f;        // -0.0 == 0.0: still padding
  EXPECT_EQ(ops::real_tiles(px, 4, 3, 4, 4), (std::vector<int>{0, 2}));
  std::vector<float> zeros(size_t(3 * per), 0.0f);
  EXPECT_EQ(ops::real_tiles(zeros, 3, 3, 4, 4), (std::vector<int>{0}));  // transformers keeps one
  EXPECT_THROW(ops::real_tiles(zeros, 4, 3, 4, 4), std::invalid_argument);
}
