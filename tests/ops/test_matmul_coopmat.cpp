// The tensor-core GEMM (matmul_coopmat.comp). It rounds X and W to fp16 and sums the exact
// products in f32, so the CPU reference is fed the same fp16-rounded X and W (bias and the
// accumulated Y stay f32) and held to max |gpu − ref| / max |ref| ≤ 1e-4 (f32 summation
// order over K ≤ 3072 vs double). Against the unrounded inputs the error must stay ≤ 2e-3
// (fp16's 2^-11 relative rounding, averaging out over K). The tensor-core cases run only
// where caps.use_coopmat; the emulated variant (same staging and epilogue, scalar math) and
// the tile-choice cases run everywhere, with small shapes for lavapipe.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/ops/matmul.h"
#include "model/ops/matmul_ref.h"
#include "tests/ops/matmul_test_inputs.h"
#include "tests/ops/op_test_util.h"
#include "tests/test_util.h"

using namespace smolvk;
using ops::Tensor;

namespace {

constexpr double kTolRounded = 1e-4;
constexpr double kTolExact = 2e-3;

struct Case {
  int64_t M, N, K;
  DType wt = DType::BF16;
  bool bias = false, accumulate = false;
  int64_t y_cols = 0, y_col = 0;  // 0 = N
  uint64_t x_byte_offset = 0, w_byte_offset = 0;
  uint64_t max_chunk_bytes = 0;
  size_t min_dispatches = 1;
  ops::CoopmatTile tile{};
  bool emulate = false;
};

std::vector<float> to_f16(std::vector<float> v) {
  for (float& f : v) f = ops::f16_to_f32(ops::f32_to_f16(f));
  return v;
}

std::string describe(const Case& c) {
  return "M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K) + " " +
         std::string(dtype_name(c.wt)) + (c.bias ? " +bias" : "") + (c.accumulate ? " +acc" : "") +
         (c.y_cols ? " y_col " + std::to_string(c.y_col) + "/" + std::to_string(c.y_cols) : "") +
         (c.x_byte_offset ? " x_off " + std::to_string(c.x_byte_offset) : "") +
         (c.w_byte_offset ? " w_off " + std::to_string(c.w_byte_offset) : "");
}

void expect_close(const Case& c) {
  SCOPED_TRACE(describe(c));
  Context& ctx = test::context();
  const int64_t y_cols = c.y_cols ? c.y_cols : c.N;
  const test::MatmulInputs in =
      test::make_matmul_inputs(ctx, c.M, c.N, c.K, y_cols, c.wt, c.x_byte_offset, c.w_byte_offset, 11);
  const auto& [x, w, b, y0, pw, pb, bx, bw, bb, by] = in;

  Graph g(ctx);
  g.enable_timestamps();
  const Tensor tb = ops::external(g, bb, c.wt, {c.N});
  ops::matmul(g, ops::external(g, bx, DType::F32, {c.M, c.K}, c.x_byte_offset),
              ops::external(g, bw, c.wt, {c.N, c.K}, c.w_byte_offset), c.bias ? &tb : nullptr,
              ops::external(g, by, DType::F32, {c.M, y_cols}),
              {.accumulate = c.accumulate, .name = "coopmat", .y_col = c.y_col,
               .max_chunk_bytes = c.max_chunk_bytes, .coopmat_tile = c.tile, .emulate_coopmat = c.emulate});
  EXPECT_GE(g.size(), c.min_dispatches);
  Program p = g.compile();
  p.run();
  for (const auto& t : p.timings())
    EXPECT_EQ(t.shader, (c.emulate ? "matmul_coopmat_emu_" : "matmul_coopmat_") + std::string(dtype_name(c.wt)));
  std::vector<float> got(y0.size());
  ctx.download(by, got.data(), got.size() * 4);

  const std::span<const float> bias = c.bias ? std::span<const float>(pb.rounded) : std::span<const float>{};
  std::vector<float> ref = y0, exact = y0;
  ops::matmul_ref(to_f16(x), to_f16(pw.rounded), bias, ref, c.M, c.N, c.K, c.accumulate, y_cols, c.y_col);
  ops::matmul_ref(x, pw.rounded, bias, exact, c.M, c.N, c.K, c.accumulate, y_cols, c.y_col);
  EXPECT_LE(test::max_rel_error(ref, got), kTolRounded);
  EXPECT_LE(test::max_rel_error(exact, got), kTolExact);
  bool untouched_exact = true;
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < y_cols; ++n)
      if ((n < c.y_col || n >= c.y_col + c.N) && got[m * y_cols + n] != y0[m * y_cols + n])
        untouched_exact = false;
  EXPECT_TRUE(untouched_exact);
}

#define REQUIRE_COOPMAT()                                                                        \
  if (!test::context().caps().use_coopmat)                                                       \
  GTEST_SKIP() << "no tensor-core path on " << test::context().caps().name                       \
               << " (needs VK_NV_cooperative_matrix 16x16x16 fp16->fp32, fp16, the Vulkan memory " \
                  "model; off under SMOLVK_PORTABLE / SMOLVK_NO_COOPMAT)"

Capabilities h100_like() {
  Capabilities c;
  c.subgroup_size = 32;
  c.max_workgroup_invocations = 1024;
  c.max_workgroup_size = {1024, 1024, 64};
  c.max_shared_memory = 48 * 1024;
  return c;
}

}  // namespace

TEST(MatmulCoopmat, AlignedShapesAllDtypes) {
  REQUIRE_COOPMAT();
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    expect_close({128, 128, 32, t});   // exactly one tile, one slice
    expect_close({256, 384, 768, t});  // whole tiles, 24 slices
  }
}

TEST(MatmulCoopmat, OddShapesUseBoundsCheckedEdges) {
  REQUIRE_COOPMAT();
  expect_close({65, 48, 16});         // one row past the mat-vec limit, less than a tile
  expect_close({65, 70, 33});         // K neither a multiple of 16 nor of 4: scalar loads
  expect_close({130, 257, 200, DType::F16});
  expect_close({300, 800, 96});
  expect_close({129, 130, 3072});     // long K, one row / column past a tile
  expect_close({300, 200, 3070, DType::F32});  // K % 4 == 2
  expect_close({97, 33, 17, DType::F16});
}

TEST(MatmulCoopmat, BiasAccumulateAndColumnRange) {
  REQUIRE_COOPMAT();
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    expect_close({.M = 200, .N = 144, .K = 768, .wt = t, .bias = true});
    expect_close({.M = 200, .N = 144, .K = 768, .wt = t, .accumulate = true});
    expect_close({.M = 77, .N = 100, .K = 64, .wt = t, .bias = true, .accumulate = true, .y_cols = 300, .y_col = 150});
  }
  expect_close({.M = 150, .N = 37, .K = 48, .bias = true, .y_cols = 53, .y_col = 3});
}

TEST(MatmulCoopmat, UnalignedOffsetsAndSplits) {
  REQUIRE_COOPMAT();
  // X starts 1 float into its buffer and bf16 W at an odd element: the scalar load path.
  expect_close({.M = 140, .N = 100, .K = 64, .bias = true, .x_byte_offset = 4, .w_byte_offset = 2});
  expect_close({.M = 140, .N = 100, .K = 64, .wt = DType::F32, .x_byte_offset = 8, .w_byte_offset = 4});
  // Bindings capped at 200000 bytes: rows in chunks of 124 and 76 (both > 64, so both take
  // the GEMM path), bf16 W rows in two chunks: 4 dispatches.
  expect_close({.M = 200, .N = 400, .K = 400, .bias = true, .accumulate = true, .max_chunk_bytes = 200000,
                .min_dispatches = 4});
}

TEST(MatmulCoopmat, OtherTileShapes) {
  REQUIRE_COOPMAT();
  expect_close({.M = 100, .N = 90, .K = 48, .bias = true, .tile = {64, 64, 32, 32, 32}});
  expect_close({.M = 300, .N = 300, .K = 200, .wt = DType::F16, .tile = {128, 256, 32, 64, 64}});
  expect_close({.M = 300, .N = 200, .K = 200, .wt = DType::F32, .accumulate = true, .tile = {128, 128, 64, 32, 64}});
}

// Runs everywhere: the shader's indexing with the matrix instructions replaced by scalar math.
TEST(MatmulCoopmat, EmulatedStagingAndEpilogue) {
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    expect_close({.M = 128, .N = 128, .K = 32, .wt = t, .emulate = true});
  expect_close({.M = 65, .N = 70, .K = 33, .emulate = true});
  expect_close({.M = 130, .N = 140, .K = 100, .wt = DType::F16, .bias = true, .emulate = true});
  expect_close({.M = 77, .N = 100, .K = 64, .bias = true, .accumulate = true, .y_cols = 300, .y_col = 150,
                .emulate = true});
  expect_close({.M = 140, .N = 100, .K = 64, .bias = true, .x_byte_offset = 4, .w_byte_offset = 2, .emulate = true});
  expect_close({.M = 140, .N = 100, .K = 64, .wt = DType::F32, .x_byte_offset = 8, .w_byte_offset = 4,
                .emulate = true});
  expect_close({.M = 150, .N = 300, .K = 200, .bias = true, .accumulate = true, .max_chunk_bytes = 100000,
                .min_dispatches = 4, .emulate = true});  // rows 83 + 67, W rows 249 + 51
  expect_close({.M = 100, .N = 90, .K = 48, .bias = true, .tile = {64, 64, 32, 32, 32}, .emulate = true});
  expect_close({.M = 150, .N = 200, .K = 80, .wt = DType::F16, .tile = {64, 128, 32, 32, 64}, .emulate = true});
}

// The emulated kernel's per-lane fragment slice at the device's subgroup size (64 elements
// per lane at subgroup 4), edges on both sides and a K that is not a multiple of 4, in one
// tile: CI runs this one at subgroups of 4, where lavapipe needs ~13 minutes for the test above.
TEST(MatmulCoopmat, EmulatedOneTile) {
  expect_close({.M = 65, .N = 70, .K = 33, .bias = true, .emulate = true});
}

TEST(MatmulCoopmat, DefaultTileFitsH100Limits) {
  const Capabilities c = h100_like();
  const auto k = ops::coopmat_kernel(c, {}, "t");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->tile.bm, 128u);
  EXPECT_EQ(k->tile.bn, 128u);
  EXPECT_EQ(k->tile.bk, 32u);
  EXPECT_EQ(k->workgroup, 512u);  // 16 subgroups of 32x32
  EXPECT_EQ(k->shared_bytes, 40960u);
  EXPECT_EQ(k->spec(), (std::vector<uint32_t>{512, 128, 128, 32, 32, 32}));
}

TEST(MatmulCoopmat, SmallerDevicesGetSmallerTileOrNone) {
  Capabilities c = h100_like();
  c.max_shared_memory = 16384;  // Vulkan's minimum
  auto k = ops::coopmat_kernel(c, {}, "t");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->tile.bm, 64u);
  EXPECT_EQ(k->workgroup, 128u);
  EXPECT_EQ(k->shared_bytes, 15360u);
  c.max_shared_memory = 8192;
  EXPECT_FALSE(ops::coopmat_kernel(c, {}, "t").has_value());
}

TEST(MatmulCoopmat, BadRequestedTilesThrowNamingTheLimit) {
  const Capabilities c = h100_like();
  auto message = [&](const ops::CoopmatTile& t) -> std::string {
    try {
      ops::coopmat_kernel(c, t, "bench");
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  EXPECT_NE(message({128, 128, 24, 64, 32}).find("multiple of 16"), std::string::npos);
  EXPECT_NE(message({128, 128, 32, 48, 32}).find("divide"), std::string::npos);
  const std::string big = message({256, 256, 64, 32, 32});  // 64 subgroups, 2048 invocations
  EXPECT_NE(big.find("1024"), std::string::npos) << big;
  EXPECT_NE(big.find("bench"), std::string::npos) << big;
  const std::string shared = message({256, 256, 64, 64, 64});  // 16 subgroups, 94208 bytes
  EXPECT_NE(shared.find("49152"), std::string::npos) << shared;
  EXPECT_EQ(message({128, 256, 32, 64, 64}), "no exception");
}
