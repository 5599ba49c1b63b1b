// The mat-vec path's fusions (MatmulOptions::norm_weight / swiglu_input) vs the CPU chain
// ref::rms_norm / ref::swiglu → matmul_ref. Weights are rounded once to their dtype and the
// references see the same rounded values, so every dtype is held to max |gpu − ref| /
// max |ref| ≤ 1e-5 (f32 sums over K ≤ 2056 vs double). Shapes cover the 16-byte load path
// (K a multiple of 8, aligned offsets) and the scalar one (odd K, odd element offsets).
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
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

constexpr double kTol = 1e-5;
constexpr float kEps = 1e-5f;

struct Case {
  int64_t M, N, K;
  DType wt = DType::F32;
  bool norm = false, swiglu = false, bias = false, accumulate = false;
  uint64_t w_byte_offset = 0;  // weight placed inside a larger buffer
};

std::string describe(const Case& c) {
  return "M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K) + " " +
         std::string(dtype_name(c.wt)) + (c.norm ? " +norm" : "") + (c.swiglu ? " +swiglu" : "") +
         (c.bias ? " +bias" : "") + (c.accumulate ? " +acc" : "") + " w_off " + std::to_string(c.w_byte_offset);
}

double run_case(const Case& c) {
  Context& ctx = test::context();
  const int64_t xk = c.swiglu ? 2 * c.K : c.K;
  // Inputs well away from 1 in scale so a missing or doubled norm shows.
  const auto x = test::random_uniform(size_t(c.M * xk), 11, -3.0f, 3.0f);
  const auto w = test::random_uniform(size_t(c.N * c.K), 12);
  const auto b = test::random_uniform(size_t(c.N), 13);
  const auto nw = test::random_uniform(size_t(c.K), 14, 0.5f, 1.5f);
  const auto y0 = test::random_uniform(size_t(c.M * c.N), 15);
  const ops::PackedWeights pw = ops::pack_weights(w, c.wt), pb = ops::pack_weights(b, c.wt),
                           pn = ops::pack_weights(nw, c.wt);

  Buffer bx = test::upload(ctx, x), bw = test::upload_weights(ctx, pw, c.w_byte_offset),
         bb = test::upload_weights(ctx, pb), bn = test::upload_weights(ctx, pn), by = test::upload(ctx, y0);

  Graph g(ctx);
  const Tensor tx = ops::external(g, bx, DType::F32, {c.M, xk});
  const Tensor tw = ops::external(g, bw, c.wt, {c.N, c.K}, c.w_byte_offset);
  const Tensor tb = ops::external(g, bb, c.wt, {c.N});
  const Tensor tn = ops::external(g, bn, c.wt, {c.K});
  const Tensor ty = ops::external(g, by, DType::F32, {c.M, c.N});
  ops::matmul(g, tx, tw, c.bias ? &tb : nullptr, ty,
              {.accumulate = c.accumulate,
               .name = "fused",
               .exact = true,  // the mat-vec kernel (the tensor-core GEMM also takes SwiGLU from 32 rows)
               .norm_weight = c.norm ? &tn : nullptr,
               .norm_eps = kEps,
               .swiglu_input = c.swiglu});
  EXPECT_EQ(g.size(), 1u) << describe(c);
  Program p = g.compile();
  p.run();
  std::vector<float> got(y0.size());
  ctx.download(by, got.data(), got.size() * 4);

  std::vector<float> xin = c.swiglu ? ops::ref::swiglu(x, c.M, c.K) : x;
  if (c.norm) xin = ops::ref::rms_norm(xin, pn.rounded, c.M, c.K, kEps);
  std::vector<float> ref = y0;
  ops::matmul_ref(xin, pw.rounded, c.bias ? std::span<const float>(pb.rounded) : std::span<const float>{}, ref, c.M,
                  c.N, c.K, c.accumulate);
  return test::max_rel_error(ref, got);
}

void expect_close(const Case& c) { EXPECT_LE(run_case(c), kTol) << describe(c); }

const DType kAllTypes[] = {DType::F32, DType::F16, DType::BF16};

}  // namespace

TEST(MatmulFused, RmsNormOddAndVectorShapes) {
  for (DType t : kAllTypes)
    for (auto [M, N, K] : {std::tuple{1, 37, 29}, {1, 45, 96}, {3, 13, 264}, {5, 21, 67}}) {
      expect_close({.M = M, .N = N, .K = K, .wt = t, .norm = true});
      expect_close({.M = M, .N = N, .K = K, .wt = t, .norm = true, .bias = true, .accumulate = true});
    }
}

TEST(MatmulFused, SwigluOddAndVectorShapes) {
  for (DType t : kAllTypes)
    for (auto [M, N, K] : {std::tuple{1, 23, 31}, {1, 29, 136}, {4, 9, 48}, {7, 17, 75}}) {
      expect_close({.M = M, .N = N, .K = K, .wt = t, .swiglu = true});
      expect_close({.M = M, .N = N, .K = K, .wt = t, .swiglu = true, .accumulate = true});
    }
}

TEST(MatmulFused, NormOfSwigluOutput) {
  expect_close({.M = 2, .N = 19, .K = 40, .wt = DType::BF16, .norm = true, .swiglu = true});
  expect_close({.M = 2, .N = 19, .K = 41, .wt = DType::F16, .norm = true, .swiglu = true});
}

// Rows per pass from 1 to 64 (the mat-vec limit), several columns per lane group.
TEST(MatmulFused, ManyRows) {
  for (int64_t M : {17, 33, 64}) {
    expect_close({.M = M, .N = 21, .K = 24, .wt = DType::BF16, .norm = true});
    expect_close({.M = M, .N = 21, .K = 24, .wt = DType::BF16, .swiglu = true, .accumulate = true});
  }
}

// A weight starting at an odd element (bf16 / f16) or off a 16-byte word takes the scalar path.
TEST(MatmulFused, MisalignedWeightOffset) {
  expect_close({.M = 1, .N = 11, .K = 32, .wt = DType::BF16, .norm = true, .w_byte_offset = 2});
  expect_close({.M = 1, .N = 11, .K = 32, .wt = DType::F32, .swiglu = true, .w_byte_offset = 4});
}

// Plain mat-vec with many columns: the column split over workgroups and lane groups.
TEST(MatmulFused, WideVectorPathNoFusion) {
  expect_close({.M = 1, .N = 1000, .K = 64, .wt = DType::BF16});
  expect_close({.M = 2, .N = 333, .K = 72, .wt = DType::F16, .accumulate = true});
  // K past several 16-byte blocks per lane (one block per 8 elements, 32-lane subgroups)
  expect_close({.M = 1, .N = 40, .K = 2056, .wt = DType::BF16, .norm = true});
  expect_close({.M = 1, .N = 40, .K = 1032, .wt = DType::F32, .swiglu = true});
}

TEST(MatmulFused, RejectsBadOptions) {
  Context& ctx = test::context();
  Buffer bx = ctx.create_buffer(65 * 16 * 4), bw = ctx.create_buffer(8 * 16 * 4), bn = ctx.create_buffer(16 * 4),
         by = ctx.create_buffer(65 * 8 * 4);
  Graph g(ctx);
  const Tensor w = ops::external(g, bw, DType::F32, {8, 16});
  const Tensor nw = ops::external(g, bn, DType::F32, {16});
  const Tensor nw_short = ops::external(g, bn, DType::F32, {15});
  const Tensor nw_bf16 = ops::external(g, bn, DType::BF16, {16});
  const Tensor x1 = ops::external(g, bx, DType::F32, {1, 16});
  const Tensor y1 = ops::external(g, by, DType::F32, {1, 8});
  const Tensor x65 = ops::external(g, bx, DType::F32, {65, 16});
  const Tensor y65 = ops::external(g, by, DType::F32, {65, 8});
  const Tensor x_odd = ops::external(g, bx, DType::F32, {1, 33});
  // more rows than the mat-vec path takes
  EXPECT_THROW(ops::matmul(g, x65, w, nullptr, y65, {.norm_weight = &nw}), std::invalid_argument);
  EXPECT_THROW(ops::matmul(g, x65, w, nullptr, y65, {.swiglu_input = true}), std::invalid_argument);
  // norm weight of the wrong length or dtype, bad eps
  EXPECT_THROW(ops::matmul(g, x1, w, nullptr, y1, {.norm_weight = &nw_short}), std::invalid_argument);
  EXPECT_THROW(ops::matmul(g, x1, w, nullptr, y1, {.norm_weight = &nw_bf16}), std::invalid_argument);
  EXPECT_THROW(ops::matmul(g, x1, w, nullptr, y1, {.norm_weight = &nw, .norm_eps = -1.0f}), std::invalid_argument);
  // swiglu input that is not [.., 2K]
  EXPECT_THROW(ops::matmul(g, x1, w, nullptr, y1, {.swiglu_input = true}), std::invalid_argument);
  EXPECT_THROW(ops::matmul(g, x_odd, w, nullptr, y1, {.swiglu_input = true}), std::invalid_argument);
  EXPECT_EQ(g.size(), 0u);
}

// y_copy: the mat-vec stores every written element into a second tensor too (the residual
// snapshot the one-dispatch MLP reads), with accumulate, on a column range.
TEST(MatmulFused, YCopyHoldsTheWrittenValues) {
  Context& ctx = test::context();
  const int64_t M = 2, N = 24, K = 40, Y = 30;
  const auto x = test::random_uniform(size_t(M * K), 41), w = test::random_uniform(size_t(N * K), 42);
  const auto y0 = test::random_uniform(size_t(M * Y), 43);
  const ops::PackedWeights pw = ops::pack_weights(w, DType::BF16);
  Buffer bx = test::upload(ctx, x), by = test::upload(ctx, y0), bc = test::upload(ctx, std::vector<float>(M * Y, 9.0f));
  Buffer bw = test::upload_weights(ctx, pw);
  Graph g(ctx);
  const Tensor ty = ops::external(g, by, DType::F32, {M, Y}), tc = ops::external(g, bc, DType::F32, {M, Y});
  ops::matmul(g, ops::external(g, bx, DType::F32, {M, K}), ops::external(g, bw, DType::BF16, {N, K}), nullptr, ty,
              {.accumulate = true, .y_col = 3, .y_copy = &tc});
  Program p = g.compile();
  p.run();
  const auto y = test::download(ctx, by, size_t(M * Y)), c = test::download(ctx, bc, size_t(M * Y));
  std::vector<float> ref = y0;
  ops::matmul_ref(x, pw.rounded, {}, ref, M, N, K, true, Y, 3);
  EXPECT_LE(test::max_rel_error(ref, y), kTol);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < Y; ++n) {
      const size_t i = size_t(m * Y + n);
      EXPECT_EQ(c[i], n >= 3 && n < 3 + N ? y[i] : 9.0f) << "row " << m << " column " << n;
    }
}
