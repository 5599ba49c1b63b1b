// The tensor-core GEMM (matmul_coopmat.comp). It rounds X and W to fp16 and sums the exact
// products in f32, so the CPU reference is fed the same fp16-rounded X and W (bias and the
// accumulated Y stay f32) and held to max |gpu − ref| / max |ref| ≤ 1e-4 (f32 summation
// order over K ≤ 3072 vs double). Against the unrounded inputs the error must stay ≤ 2e-3
// (fp16's 2^-11 relative rounding, averaging out over K). f16 X is what the kernel would round
// f32 X to: the same reference holds. f16 Y is the f32 result rounded once more: held to
// 1e-3 (one f16 step, 2^-10, of the largest value) against the rounded reference. GELU is
// applied to the reference after the bias. The tensor-core cases run only
// where caps.use_coopmat; the emulated variant (same staging and epilogue, scalar math) and
// the tile-choice cases run everywhere, with small shapes for lavapipe.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/ops/activation_ref.h"
#include "model/ops/matmul.h"
#include "model/ops/matmul_ref.h"
#include "model/ops/norm_ref.h"
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
  bool x_half = false, y_half = false, gelu = false;
  uint32_t split_k = 0;  // MatmulOptions::split_k (0: the policy's)
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
         (c.w_byte_offset ? " w_off " + std::to_string(c.w_byte_offset) : "") + (c.x_half ? " x f16" : "") +
         (c.y_half ? " y f16" : "") + (c.gelu ? " +gelu" : "") +
         (c.split_k ? " split " + std::to_string(c.split_k) : "") +
         (c.tile.bm ? " tile " + std::to_string(c.tile.bm) + "x" + std::to_string(c.tile.bn) + "x" +
                          std::to_string(c.tile.bk) + "/" + std::to_string(c.tile.wm) + "x" +
                          std::to_string(c.tile.wn) + " s" + std::to_string(c.tile.stages)
                    : "");
}

// Where the device has it, f16 X and f16 W of more than 64 rows on 16-byte rows take the
// cooperative_matrix2 GEMM (matmul.cpp) unless a tile or emulation is asked for.
bool coopmat2_expected(const Case& c) {
  return test::context().caps().use_coopmat2 && !c.emulate && !c.tile.bm && c.x_half && c.wt == DType::F16 &&
         c.M > ops::kMatVecMaxRows && c.K % 8 == 0 && (c.x_byte_offset / 2) % 16 == 0 && c.w_byte_offset % 16 == 0 &&
         !c.max_chunk_bytes;
}

void expect_close(const Case& c) {
  SCOPED_TRACE(describe(c));
  Context& ctx = test::context();
  const int64_t y_cols = c.y_cols ? c.y_cols : c.N;
  const test::MatmulInputs in =
      test::make_matmul_inputs(ctx, c.M, c.N, c.K, y_cols, c.wt, c.x_byte_offset, c.w_byte_offset, 11);
  const auto& [x, w, b, y0, pw, pb, bx, bw, bb, by] = in;

  // f16 copies of X (at half the byte offset) and of the prior Y.
  std::vector<uint16_t> xh(x.size()), yh(y0.size());
  for (size_t i = 0; i < x.size(); ++i) xh[i] = ops::f32_to_f16(x[i]);
  for (size_t i = 0; i < y0.size(); ++i) yh[i] = ops::f32_to_f16(y0[i]);
  Buffer bxh = ctx.create_buffer((c.x_byte_offset / 2 + xh.size() * 2 + 3) / 4 * 4);
  Buffer byh = ctx.create_buffer((yh.size() * 2 + 3) / 4 * 4);
  ctx.upload(bxh, xh.data(), xh.size() * 2, c.x_byte_offset / 2);
  ctx.upload(byh, yh.data(), yh.size() * 2);

  Graph g(ctx);
  g.enable_timestamps();
  const Tensor tb = ops::external(g, bb, c.wt, {c.N});
  const Tensor tx = c.x_half ? ops::external(g, bxh, DType::F16, {c.M, c.K}, c.x_byte_offset / 2)
                             : ops::external(g, bx, DType::F32, {c.M, c.K}, c.x_byte_offset);
  const Tensor ty =
      c.y_half ? ops::external(g, byh, DType::F16, {c.M, y_cols}) : ops::external(g, by, DType::F32, {c.M, y_cols});
  ops::matmul(g, tx, ops::external(g, bw, c.wt, {c.N, c.K}, c.w_byte_offset), c.bias ? &tb : nullptr, ty,
              {.accumulate = c.accumulate,
               .gelu = c.gelu,
               .name = "coopmat",
               .y_col = c.y_col,
               .max_chunk_bytes = c.max_chunk_bytes,
               .coopmat_tile = c.tile,
               .split_k = c.split_k,
               .emulate_coopmat = c.emulate});
  EXPECT_GE(g.size(), c.min_dispatches);
  Program p = g.compile();
  p.run();
  // Each GEMM dispatch, then (split K) its reduce pass.
  size_t gemms = 0, reduces = 0;
  for (const auto& t : p.timings()) {
    if (t.shader == "matmul_reduce_" + std::string(dtype_name(c.wt))) {
      ++reduces;
      continue;
    }
    ++gemms;
    EXPECT_EQ(t.shader, coopmat2_expected(c) ? std::string("matmul_coopmat2_f16")
                                             : (c.emulate ? "matmul_coopmat_emu_" : "matmul_coopmat_") +
                                                   std::string(dtype_name(c.wt)));
  }
  if (c.split_k > 1) {
    EXPECT_GE(reduces, 1u);
    if (!c.max_chunk_bytes) {
      EXPECT_EQ(reduces, gemms);  // (a chunk splits where its partials fit a binding)
    }
  }
  if (c.split_k == 1) {
    EXPECT_EQ(reduces, 0u);
  }
  std::vector<float> got(y0.size());
  if (c.y_half) {
    ctx.download(byh, yh.data(), yh.size() * 2);
    for (size_t i = 0; i < yh.size(); ++i) got[i] = ops::f16_to_f32(yh[i]);
  } else {
    ctx.download(by, got.data(), got.size() * 4);
  }

  const std::span<const float> bias = c.bias ? std::span<const float>(pb.rounded) : std::span<const float>{};
  std::vector<float> prior = c.y_half ? to_f16(y0) : y0;
  std::vector<float> ref = prior, exact = prior;
  ops::matmul_ref(to_f16(x), to_f16(pw.rounded), bias, ref, c.M, c.N, c.K, c.accumulate, y_cols, c.y_col);
  ops::matmul_ref(x, pw.rounded, bias, exact, c.M, c.N, c.K, c.accumulate, y_cols, c.y_col);
  if (c.gelu) {
    for (auto* v : {&ref, &exact})
      for (int64_t m = 0; m < c.M; ++m)
        for (int64_t n = c.y_col; n < c.y_col + c.N; ++n) {
          float& e = (*v)[size_t(m * y_cols + n)];
          e = ops::ref::gelu_tanh(std::span<const float>(&e, 1))[0];
        }
  }
  if (c.y_half) {
    EXPECT_LE(test::max_rel_error(to_f16(ref), got), 1e-3);
  } else {
    EXPECT_LE(test::max_rel_error(ref, got), kTolRounded);
  }
  EXPECT_LE(test::max_rel_error(exact, got), kTolExact);
  bool untouched_exact = true;
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < y_cols; ++n)
      if ((n < c.y_col || n >= c.y_col + c.N) && got[m * y_cols + n] != prior[m * y_cols + n]) untouched_exact = false;
  EXPECT_TRUE(untouched_exact);
}

#define REQUIRE_COOPMAT()                                                                          \
  if (!test::context().caps().use_coopmat)                                                         \
  GTEST_SKIP() << "no tensor-core path on " << test::context().caps().name                         \
               << " (needs VK_NV_cooperative_matrix 16x16x16 fp16->fp32, fp16, the Vulkan memory " \
                  "model; off under SMOLVK_PORTABLE / SMOLVK_NO_COOPMAT)"

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
  expect_close({65, 48, 16});  // one row past the mat-vec limit, less than a tile
  expect_close({65, 70, 33});  // K neither a multiple of 16 nor of 4: scalar loads
  expect_close({130, 257, 200, DType::F16});
  expect_close({300, 800, 96});
  expect_close({129, 130, 3072});              // long K, one row / column past a tile
  expect_close({300, 200, 3070, DType::F32});  // K % 4 == 2
  expect_close({97, 33, 17, DType::F16});
  expect_close({.M = 81, .N = 108, .K = 36, .wt = DType::F32, .bias = true});  // K % 8 == 4: a partial last chunk
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
  expect_close(
      {.M = 200, .N = 400, .K = 400, .bias = true, .accumulate = true, .max_chunk_bytes = 200000, .min_dispatches = 4});
}

TEST(MatmulCoopmat, HalfInputsOutputsAndGelu) {
  REQUIRE_COOPMAT();
  for (DType t : {DType::F32, DType::BF16}) {
    expect_close({.M = 300, .N = 256, .K = 768, .wt = t, .bias = true, .x_half = true});
    expect_close({.M = 300, .N = 256, .K = 768, .wt = t, .bias = true, .y_half = true, .gelu = true});
  }
  expect_close({.M = 130, .N = 70, .K = 33, .x_half = true, .y_half = true});  // scalar X loads, edges
  expect_close({.M = 140, .N = 100, .K = 64, .bias = true, .x_byte_offset = 4, .x_half = true});  // odd X start
  expect_close({.M = 77, .N = 100, .K = 64, .bias = true, .y_cols = 300, .y_col = 150, .y_half = true});
  expect_close({.M = 200, .N = 144, .K = 768, .bias = true, .accumulate = true, .x_half = true});
  expect_close({.M = 200, .N = 144, .K = 768, .bias = true, .gelu = true});
}

TEST(MatmulCoopmat, FewRowsFromThirtyTwo) {
  // Batched decode: 32..64 rows take 32-row tiles (the expected shader is checked).
  expect_close({.M = 40, .N = 100, .K = 64, .bias = true, .accumulate = true, .emulate = true});
  expect_close({.M = 32, .N = 70, .K = 33, .wt = DType::F16, .emulate = true});
  if (!test::context().caps().use_coopmat) return;
  expect_close({.M = 64, .N = 576, .K = 576, .accumulate = true});
  expect_close({.M = 33, .N = 130, .K = 200, .wt = DType::F32, .bias = true});
}

TEST(MatmulCoopmat, OtherTileShapes) {
  REQUIRE_COOPMAT();
  expect_close({.M = 300, .N = 300, .K = 200, .tile = {128, 128, 32, 32, 32, 1}});
  expect_close({.M = 300, .N = 300, .K = 200, .tile = {128, 128, 32, 64, 32, 2}, .x_half = true});
  expect_close({.M = 300, .N = 200, .K = 200, .tile = {128, 128, 16, 64, 32, 2}});
  expect_close({.M = 100, .N = 90, .K = 48, .bias = true, .tile = {64, 64, 32, 32, 32}});
  expect_close({.M = 300, .N = 300, .K = 200, .wt = DType::F16, .tile = {128, 256, 32, 64, 64}});
  expect_close({.M = 300, .N = 200, .K = 200, .wt = DType::F32, .accumulate = true, .tile = {128, 128, 64, 32, 64}});
}

// The VK_NV_cooperative_matrix2 GEMM (matmul_coopmat2.comp): f16 X and W, every epilogue,
// edges of the 128 x 128 tile and of K's 32-deep slices, split K, a column range of a wider Y.
// Same tolerances as above (it also rounds nothing but X and W to f16 and sums in f32).
TEST(MatmulCoopmat2, EdgesEpiloguesAndSplits) {
  if (!test::context().caps().use_coopmat2)
    GTEST_SKIP() << "no VK_NV_cooperative_matrix2 GEMM on " << test::context().caps().name
                 << " (needs the extension's workgroup scope, flexible dimensions, tensor addressing and "
                    "per-element operations, Vulkan 1.3, the shader built with glslang 15, and the opt-in "
                    "SMOLVK_COOPMAT2=1)";
  const DType h = DType::F16;
  expect_close({.M = 128, .N = 128, .K = 32, .wt = h, .x_half = true});
  expect_close({.M = 1100, .N = 768, .K = 3072, .wt = h, .bias = true, .accumulate = true, .x_half = true});
  expect_close({.M = 65, .N = 48, .K = 16, .wt = h, .x_half = true});
  expect_close({.M = 130, .N = 257, .K = 200, .wt = h, .x_half = true});
  expect_close({.M = 300, .N = 800, .K = 96, .wt = h, .bias = true, .x_half = true, .y_half = true, .gelu = true});
  expect_close({.M = 129, .N = 130, .K = 3072, .wt = h, .bias = true, .x_half = true});
  expect_close({.M = 200, .N = 144, .K = 768, .wt = h, .accumulate = true, .x_half = true});
  expect_close({.M = 77 + 64, .N = 100, .K = 64, .wt = h, .bias = true, .accumulate = true, .y_cols = 300,
                .y_col = 150, .x_half = true});
  expect_close({.M = 150, .N = 38, .K = 48, .wt = h, .bias = true, .y_cols = 54, .y_col = 4, .x_half = true,
                .y_half = true});
  expect_close({.M = 300, .N = 256, .K = 768, .wt = h, .bias = true, .x_half = true, .split_k = 3});
  expect_close({.M = 300, .N = 256, .K = 768, .wt = h, .bias = true, .accumulate = true, .x_half = true, .split_k = 1});
  // Misaligned X or K % 8 != 0: the other GEMM (coopmat2_expected says which).
  expect_close({.M = 140, .N = 100, .K = 64, .wt = h, .bias = true, .x_byte_offset = 4, .x_half = true});
  expect_close({.M = 130, .N = 70, .K = 36, .wt = h, .x_half = true});
}

// Runs everywhere: the shader's indexing with the matrix instructions replaced by scalar math.
TEST(MatmulCoopmat, EmulatedStagingAndEpilogue) {
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    expect_close({.M = 128, .N = 128, .K = 32, .wt = t, .emulate = true});
  expect_close({.M = 65, .N = 70, .K = 33, .emulate = true});
  expect_close({.M = 130, .N = 140, .K = 100, .wt = DType::F16, .bias = true, .emulate = true});
  expect_close(
      {.M = 77, .N = 100, .K = 64, .bias = true, .accumulate = true, .y_cols = 300, .y_col = 150, .emulate = true});
  expect_close({.M = 140, .N = 100, .K = 64, .bias = true, .x_byte_offset = 4, .w_byte_offset = 2, .emulate = true});
  expect_close(
      {.M = 140, .N = 100, .K = 64, .wt = DType::F32, .x_byte_offset = 8, .w_byte_offset = 4, .emulate = true});
  expect_close({.M = 150,
                .N = 300,
                .K = 200,
                .bias = true,
                .accumulate = true,
                .max_chunk_bytes = 100000,
                .min_dispatches = 4,
                .emulate = true});  // rows 83 + 67, W rows 249 + 51
  expect_close({.M = 100, .N = 90, .K = 48, .bias = true, .tile = {64, 64, 32, 32, 32}, .emulate = true});
  expect_close({.M = 150, .N = 200, .K = 80, .wt = DType::F16, .tile = {64, 128, 32, 32, 64}, .emulate = true});
  // Epilogue scratch slots shared in rounds (8 subgroups, 2 or 3 slots).
  expect_close({.M = 150,
                .N = 200,
                .K = 100,
                .bias = true,
                .accumulate = true,
                .tile = {64, 64, 32, 16, 32, 1, 3},
                .emulate = true});
  expect_close({.M = 150, .N = 200, .K = 100, .tile = {64, 64, 32, 16, 32, 2, 2}, .emulate = true, .y_half = true});
  // Two shared stages, f16 X and Y, GELU (the vision encoder's fc1).
  expect_close({.M = 150, .N = 200, .K = 100, .tile = {64, 64, 32, 32, 32, 2}, .emulate = true});
  expect_close({.M = 150,
                .N = 200,
                .K = 100,
                .bias = true,
                .tile = {64, 64, 16, 32, 32, 2},
                .emulate = true,
                .x_half = true,
                .y_half = true,
                .gelu = true});
  expect_close(
      {.M = 97, .N = 70, .K = 33, .wt = DType::F16, .tile = {64, 64, 32, 32, 32, 2}, .emulate = true, .x_half = true});
  expect_close({.M = 77,
                .N = 100,
                .K = 64,
                .bias = true,
                .y_cols = 300,
                .y_col = 150,
                .tile = {64, 64, 32, 32, 32, 1},
                .emulate = true,
                .y_half = true});
}

// Split K (workgroup z takes a K chunk, partial sums added in order by matmul_reduce): splits
// whose last chunk is a partial slice, bias + accumulate into a column range, f32 and f16
// weights at odd offsets, f16 X and Y with GELU, two shared stages, chunked bindings.
TEST(MatmulCoopmat, EmulatedSplitK) {
  expect_close({.M = 65, .N = 70, .K = 300, .bias = true, .accumulate = true, .emulate = true, .split_k = 3});
  expect_close({.M = 77,
                .N = 100,
                .K = 200,
                .bias = true,
                .accumulate = true,
                .y_cols = 300,
                .y_col = 150,
                .emulate = true,
                .split_k = 5});
  expect_close({.M = 70,
                .N = 46,
                .K = 100,
                .wt = DType::F32,
                .x_byte_offset = 8,
                .w_byte_offset = 4,
                .emulate = true,
                .split_k = 4});
  expect_close({.M = 90,
                .N = 100,
                .K = 130,
                .wt = DType::F16,
                .bias = true,
                .tile = {64, 64, 16, 32, 32, 2},
                .emulate = true,
                .x_half = true,
                .y_half = true,
                .gelu = true,
                .split_k = 3});
  expect_close({.M = 150,
                .N = 300,
                .K = 200,
                .bias = true,
                .accumulate = true,
                .max_chunk_bytes = 100000,
                .min_dispatches = 6,
                .emulate = true,
                .split_k = 2});  // 4 chunks; the two whose partial sums fit 100 kB split
  // More splits than K slices: one per slice.
  expect_close({.M = 40, .N = 40, .K = 64, .bias = true, .emulate = true, .split_k = 9});
  expect_close({.M = 130, .N = 70, .K = 96, .emulate = true, .split_k = 1});
}

// The policy splits K where the grid has few output tiles and K has enough slices: here 2
// tiles of 64 rows and 32 slices of 32 columns.
TEST(MatmulCoopmat, PolicySplitsKOnSmallGrids) {
  Context& ctx = test::context();
  const int64_t M = 128, N = 64, K = 1024;
  Buffer bx = ctx.create_buffer(M * K * 4), bw = ctx.create_buffer(N * K * 2), by = ctx.create_buffer(M * N * 4);
  Graph g(ctx);
  ops::matmul(g, ops::external(g, bx, DType::F32, {M, K}), ops::external(g, bw, DType::BF16, {N, K}), nullptr,
              ops::external(g, by, DType::F32, {M, N}), {.emulate_coopmat = true});
  ASSERT_EQ(g.size(), 2u);  // the GEMM and its reduce
  Graph g2(ctx);
  ops::matmul(g2, ops::external(g2, bx, DType::F32, {M, K}), ops::external(g2, bw, DType::BF16, {N, K}), nullptr,
              ops::external(g2, by, DType::F32, {M, N}), {.split_k = 1, .emulate_coopmat = true});
  EXPECT_EQ(g2.size(), 1u);
}

// KernelPolicy::gemm_ablate swaps in the profiling variant (wrong results by design) for f16
// weights only, and only when asked.
TEST(MatmulCoopmat, AblationVariantOnlyWhenAsked) {
  Context& ctx = test::context();
  if (!ctx.caps().use_coopmat) GTEST_SKIP() << "no tensor-core GEMM on " << ctx.caps().name;
  const int64_t M = 128, N = 64, K = 64;
  Buffer bx = ctx.create_buffer(M * K * 4), bw = ctx.create_buffer(N * K * 2), by = ctx.create_buffer(M * N * 4);
  ops::KernelPolicy ablate = ops::kernel_policy(ctx.caps());
  ablate.gemm_ablate = 2;
  ablate.coopmat2 = 0;
  const auto shader = [&](DType wt, const ops::KernelPolicy* policy) {
    Graph g(ctx);
    g.enable_timestamps();
    ops::matmul(g, ops::external(g, bx, DType::F32, {M, K}), ops::external(g, bw, wt, {N, K}), nullptr,
                ops::external(g, by, DType::F32, {M, N}), {.split_k = 1, .policy = policy});
    Program p = g.compile();
    p.run();
    return p.timings().at(0).shader;
  };
  EXPECT_EQ(shader(DType::F16, &ablate), "matmul_coopmat_abl_f16");
  EXPECT_EQ(shader(DType::BF16, &ablate), "matmul_coopmat_bf16");
  EXPECT_EQ(shader(DType::F16, nullptr), "matmul_coopmat_f16");
}

// The decoder's fusions on the tensor-core GEMM (emulated here): X read as silu(gate)·up from
// gate|up rows (the down projection), and the RMSNorm of the finished rows written by the
// split-K reduce pass (then_norm), or recorded after the GEMM where K is not split. The
// references: silu(g)·u in f32 rounded to f16 (what the kernel stages), the kernel's
// tolerance on Y, and the norm of the GPU's own Y held to 1e-5 (f32 against double sums).
struct FusedCase {
  int64_t M, N, K;
  DType wt = DType::BF16;
  bool swiglu = false, accumulate = false, bias = false, norm = false;
  uint32_t split_k = 0;
  uint64_t x_byte_offset = 0;
  size_t dispatches = 0;  // expected, or 0
};

void expect_fused(const FusedCase& c) {
  SCOPED_TRACE("M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K) +
               (c.swiglu ? " swiglu" : "") + (c.accumulate ? " +acc" : "") + (c.bias ? " +bias" : "") +
               (c.norm ? " then_norm" : "") + " split " + std::to_string(c.split_k));
  Context& ctx = test::context();
  const int64_t xk = c.swiglu ? 2 * c.K : c.K;
  const std::vector<float> xin = test::random_floats(size_t(c.M * xk), 21, 4.0f);
  const std::vector<float> w = test::random_floats(size_t(c.N * c.K), 22, 1.0f);
  const std::vector<float> b = test::random_floats(size_t(c.N), 23, 1.0f);
  const std::vector<float> y0 = test::random_floats(size_t(c.M * c.N), 24, 1.0f);
  const std::vector<float> nwf = test::random_floats(size_t(c.N), 25, 1.0f);
  const ops::PackedWeights pw = ops::pack_weights(w, c.wt), pb = ops::pack_weights(b, c.wt),
                           pn = ops::pack_weights(nwf, c.wt);
  Buffer bx = ctx.create_buffer(c.x_byte_offset + xin.size() * 4);
  ctx.upload(bx, xin.data(), xin.size() * 4, c.x_byte_offset);
  Buffer bw = test::upload_weights(ctx, pw), bb = test::upload_weights(ctx, pb), bn = test::upload_weights(ctx, pn);
  Buffer by = test::upload(ctx, y0), bz = ctx.create_buffer(uint64_t(c.M * c.N) * 4);

  Graph g(ctx);
  const Tensor tb = ops::external(g, bb, c.wt, {c.N}), tn = ops::external(g, bn, c.wt, {c.N});
  const Tensor tz = ops::external(g, bz, DType::F32, {c.M, c.N});
  ops::matmul(g, ops::external(g, bx, DType::F32, {c.M, xk}, c.x_byte_offset), ops::external(g, bw, c.wt, {c.N, c.K}),
              c.bias ? &tb : nullptr, ops::external(g, by, DType::F32, {c.M, c.N}),
              {.accumulate = c.accumulate,
               .name = "fused",
               .split_k = c.split_k,
               .emulate_coopmat = true,
               .swiglu_input = c.swiglu,
               .then_norm_weight = c.norm ? &tn : nullptr,
               .then_norm_out = c.norm ? &tz : nullptr,
               .then_norm_eps = 1e-5f});
  if (c.dispatches) {
    EXPECT_EQ(g.size(), c.dispatches);
  }
  Program p = g.compile();
  p.run();
  std::vector<float> got(y0.size()), z(y0.size());
  ctx.download(by, got.data(), got.size() * 4);
  ctx.download(bz, z.data(), z.size() * 4);

  std::vector<float> act(size_t(c.M * c.K));
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t k = 0; k < c.K; ++k) {
      const float g0 = xin[size_t(m * xk + k)];
      act[size_t(m * c.K + k)] = c.swiglu ? g0 / (1.0f + std::exp(-g0)) * xin[size_t(m * xk + c.K + k)] : g0;
    }
  std::vector<float> ref = y0;
  ops::matmul_ref(to_f16(act), to_f16(pw.rounded),
                  c.bias ? std::span<const float>(pb.rounded) : std::span<const float>{}, ref, c.M, c.N, c.K,
                  c.accumulate, c.N, 0);
  EXPECT_LE(test::max_rel_error(ref, got), 2e-4);  // silu's exp on the GPU vs the host, then f16
  if (c.norm) {
    const std::vector<float> zref = ops::ref::rms_norm(got, pn.rounded, c.M, c.N, 1e-5f);
    EXPECT_LE(test::max_rel_error(zref, z), 1e-5);
  }
}

TEST(MatmulCoopmat, EmulatedSwigluInputAndNormAfter) {
  // SwiGLU input: aligned (16-byte loads) and odd K (scalar edges), split and whole, f32 weights.
  expect_fused({.M = 70, .N = 48, .K = 96, .swiglu = true, .accumulate = true, .split_k = 1, .dispatches = 1});
  expect_fused({.M = 70, .N = 48, .K = 99, .swiglu = true, .split_k = 3, .dispatches = 2});
  expect_fused({.M = 70, .N = 48, .K = 96, .swiglu = true, .split_k = 3, .dispatches = 2});
  expect_fused({.M = 33, .N = 40, .K = 64, .wt = DType::F32, .swiglu = true, .bias = true, .x_byte_offset = 4});
  // The norm in the reduce pass (one dispatch fewer), with bias and the residual add; and
  // recorded after the GEMM where K is not split.
  expect_fused(
      {.M = 45, .N = 100, .K = 130, .accumulate = true, .bias = true, .norm = true, .split_k = 3, .dispatches = 2});
  expect_fused(
      {.M = 45, .N = 100, .K = 130, .swiglu = true, .accumulate = true, .norm = true, .split_k = 2, .dispatches = 2});
  expect_fused({.M = 45, .N = 70, .K = 64, .accumulate = true, .norm = true, .split_k = 1, .dispatches = 2});
}

TEST(MatmulCoopmat, HalfDataNeedsTheTensorCoreGemm) {
  Context& ctx = test::context();
  Buffer bx = ctx.create_buffer(64 * 32 * 4), bw = ctx.create_buffer(32 * 32 * 4), by = ctx.create_buffer(64 * 32 * 4);
  Graph g(ctx);
  auto message = [&](DType xt, DType yt, bool accumulate) -> std::string {
    try {
      ops::matmul(g, ops::external(g, bx, xt, {64, 32}), ops::external(g, bw, DType::F32, {32, 32}), nullptr,
                  ops::external(g, by, yt, {64, 32}), {.accumulate = accumulate, .emulate_coopmat = true});
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  // 64 rows take the mat-vec kernel, which reads and writes f32 only.
  EXPECT_NE(message(DType::F16, DType::F32, false).find("tensor-core GEMM"), std::string::npos);
  EXPECT_NE(message(DType::F32, DType::F16, false).find("tensor-core GEMM"), std::string::npos);
}

// The emulated kernel's per-lane fragment slice at the device's subgroup size (64 elements
// per lane at subgroup 4), edges on both sides and a K that is not a multiple of 4, in one
// tile: CI runs this one at subgroups of 4, where lavapipe needs ~13 minutes for the test above.
TEST(MatmulCoopmat, EmulatedOneTile) { expect_close({.M = 65, .N = 70, .K = 33, .bias = true, .emulate = true}); }

TEST(MatmulCoopmat, DefaultTileFitsH100Limits) {
  const Capabilities c = test::h100_like_caps();
  const auto k = ops::coopmat_kernel(c, {}, "t");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->tile.bm, 64u);
  EXPECT_EQ(k->tile.bn, 64u);
  EXPECT_EQ(k->tile.bk, 32u);
  EXPECT_EQ(k->workgroup, 256u);       // f32 X: 8 subgroups of 16x32
  EXPECT_EQ(k->shared_bytes, 10240u);  // one stage of (64 + 64) x 40 halves; the scratch overlays it
  EXPECT_EQ(k->spec(), (std::vector<uint32_t>{256, 64, 64, 32, 16, 32, 1, 0, 0, 8}));
  // f16 X (the vision encoder): 8 subgroups of 64x32, so two workgroups fit an SM.
  const auto kh = ops::coopmat_kernel(c, {}, "t", 17408, true);
  ASSERT_TRUE(kh.has_value());
  EXPECT_EQ(kh->spec(true, true), (std::vector<uint32_t>{256, 128, 128, 32, 64, 32, 1, 1, 1, 8}));
  EXPECT_EQ(kh->shared_bytes, 20480u);
  // Few rows (batched decode): 32 x 32 tiles of 16 x 16 subgroups, two stages.
  const auto few = ops::coopmat_kernel(c, {}, "t", 20);
  ASSERT_TRUE(few.has_value());
  EXPECT_EQ(few->spec(), (std::vector<uint32_t>{128, 32, 32, 32, 16, 16, 2, 0, 0, 4}));
}

TEST(MatmulCoopmat, SmallerDevicesGetSmallerTileOrNone) {
  Capabilities c = test::h100_like_caps();
  c.max_shared_memory = 16384;  // Vulkan's minimum: the f32-X default (64 x 64) fits
  auto k = ops::coopmat_kernel(c, {}, "t");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->tile.bm, 64u);
  EXPECT_EQ(k->tile.bn, 64u);
  EXPECT_EQ(k->shared_bytes, 10240u);
  k = ops::coopmat_kernel(c, {}, "t", 1 << 20, true);  // the f16-X default (128 x 128) does not
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->tile.bm, 64u);
  EXPECT_EQ(k->tile.bn, 64u);
  EXPECT_EQ(k->workgroup, 128u);
  EXPECT_EQ(k->shared_bytes, 10240u);
  c.max_shared_memory = 12288;
  k = ops::coopmat_kernel(c, {}, "t");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->tile.bn, 64u);
  c.max_shared_memory = 8192;
  EXPECT_FALSE(ops::coopmat_kernel(c, {}, "t").has_value());
}

TEST(MatmulCoopmat, BadRequestedTilesThrowNamingTheLimit) {
  const Capabilities c = test::h100_like_caps();
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
  const std::string shared = message({256, 256, 64, 64, 64});  // 16 subgroups, 90112 bytes
  EXPECT_NE(shared.find("49152"), std::string::npos) << shared;
  EXPECT_NE(message({128, 128, 32, 64, 32, 3}).find("stages"), std::string::npos);
  EXPECT_EQ(message({128, 128, 32, 64, 64, 2}), "no exception");                   // 40960 + 4 x 1 KiB
  EXPECT_NE(message({128, 128, 64, 64, 32, 2}).find("49152"), std::string::npos);  // 73728 + 8 KiB
  EXPECT_EQ(message({128, 256, 32, 64, 64}), "no exception");
}

// KernelPolicy::split_f32_weights: f32 weights reach the tensor cores as f16 hi + lo
// (matmul_coopmat_f32split, matmul_coopmat.comp's W_SPLIT) instead of rounded to f16. X holds
// f16-exact values here, so the weights' rounding is the only one left: against a double
// reference on the f32 weights the split must be within 2e-6 (f32 summation over K ≤ 768; the
// lo half's own rounding is ~2^-22 of a weight; lavapipe: 2.7e-7), and rounding them to f16 (the
// policy off; lavapipe: 1.4e-4 and 2.0e-4) must be more than 100 times further off — that is
// what the split buys. Weights of 0.05 and less
// put lo in f16's subnormal range unless it is scaled (the kernel stages it ×2^11).
namespace {
struct SplitResult {
  double split = 0, rounded = 0;
};

SplitResult split_errors(int64_t M, int64_t N, int64_t K, bool emulate, bool x_half, bool bias, float w_range) {
  Context& ctx = test::context();
  const std::vector<float> x = to_f16(test::random_floats(size_t(M * K), 31, 1.0f));
  const std::vector<float> w = test::random_floats(size_t(N * K), 32, w_range);
  const std::vector<float> b = test::random_floats(size_t(N), 33, 1.0f);
  std::vector<uint16_t> xh(x.size());
  for (size_t i = 0; i < x.size(); ++i) xh[i] = ops::f32_to_f16(x[i]);
  Buffer bx = x_half ? ctx.create_buffer((xh.size() * 2 + 3) / 4 * 4) : test::upload(ctx, x);
  if (x_half) ctx.upload(bx, xh.data(), xh.size() * 2);
  Buffer bw = test::upload(ctx, w), bb = test::upload(ctx, b);
  std::vector<double> ref(size_t(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = bias ? b[size_t(n)] : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(x[size_t(m * K + k)]) * double(w[size_t(n * K + k)]);
      ref[size_t(m * N + n)] = s;
    }
  const std::vector<float> reff(ref.begin(), ref.end());
  SplitResult r;
  for (const bool split : {true, false}) {
    ops::KernelPolicy policy = ops::kernel_policy(ctx.caps());
    policy.split_f32_weights = split ? 1 : 0;
    Buffer by = ctx.create_buffer(size_t(M * N) * 4);
    Graph g(ctx);
    g.enable_timestamps();
    const Tensor tb = ops::external(g, bb, DType::F32, {N});
    ops::matmul(g, ops::external(g, bx, x_half ? DType::F16 : DType::F32, {M, K}),
                ops::external(g, bw, DType::F32, {N, K}), bias ? &tb : nullptr, ops::external(g, by, DType::F32, {M, N}),
                {.name = "split", .emulate_coopmat = emulate, .policy = &policy});
    Program p = g.compile();
    p.run();
    for (const auto& t : p.timings()) {
      if (t.shader.rfind("matmul_reduce", 0) == 0) continue;
      EXPECT_EQ(t.shader, std::string(emulate ? "matmul_coopmat_emu_f32" : "matmul_coopmat_f32") + (split ? "split" : ""));
    }
    std::vector<float> got(size_t(M * N));
    ctx.download(by, got.data(), got.size() * 4);
    (split ? r.split : r.rounded) = test::max_rel_error(reff, got);
  }
  return r;
}
}  // namespace

TEST(MatmulCoopmat, SplitF32WeightsKeepTheirPrecision) {
  struct Shape {
    int64_t M, N, K;
    bool x_half, bias;
    float w_range;
  };
  // Emulated everywhere (lavapipe: small shapes); edges of K and N, f16 X, bias, small weights.
  std::vector<std::pair<Shape, bool>> cases = {{{70, 40, 96, false, true, 0.1f}, true},
                                               {{66, 33, 37, true, false, 2.0f}, true}};
  if (test::context().caps().use_coopmat)
    for (const Shape s : {Shape{300, 256, 768, false, true, 0.1f}, Shape{300, 256, 768, true, false, 0.1f},
                          Shape{129, 130, 200, false, false, 2.0f}, Shape{48, 100, 64, false, true, 0.1f}})
      cases.push_back({s, false});
  for (const auto& [s, emulate] : cases) {
    SCOPED_TRACE("M " + std::to_string(s.M) + " N " + std::to_string(s.N) + " K " + std::to_string(s.K) +
                 (s.x_half ? " x f16" : "") + (s.bias ? " +bias" : "") + " |w| < " + std::to_string(s.w_range / 2) +
                 (emulate ? " emulated" : ""));
    const SplitResult r = split_errors(s.M, s.N, s.K, emulate, s.x_half, s.bias, s.w_range);
    RecordProperty("split_vs_rounded", std::to_string(r.split) + " " + std::to_string(r.rounded));
    std::printf("split %.3g rounded %.3g\n", r.split, r.rounded);    EXPECT_LE(r.split, 2e-6);
    EXPECT_GT(r.rounded, 100 * r.split);
    EXPECT_LE(r.rounded, kTolExact);  // (what f16 weights give: within the tensor-core bound)
  }
}
