// ops::mlp_decode (RMSNorm → gate_up → SwiGLU → down → residual add in one dispatch, the
// partial sums added with float atomics) vs the CPU chain ref::rms_norm → matmul_ref →
// ref::swiglu → matmul_ref. Weights are rounded to their dtype once and the reference sees
// the rounded values. Tolerance: max |gpu − ref| / max |ref| ≤ 1e-5 (f32 sums, atomics in
// any order).
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "model/ops/activation_ref.h"
#include "model/ops/matmul_ref.h"
#include "model/ops/mlp.h"
#include "model/ops/norm_ref.h"
#include "tests/ops/matmul_test_inputs.h"
#include "tests/ops/op_test_util.h"
#include "tests/test_util.h"

using namespace smolvk;
using ops::Tensor;

namespace {

constexpr float kEps = 1e-5f;

struct Case {
  int64_t M, H, I;
  DType wt = DType::BF16;
  bool add_x = false;  // h starts at zero and gets x + MLP(x)
};

void run_case(const Case& c) {
  SCOPED_TRACE("M " + std::to_string(c.M) + " H " + std::to_string(c.H) + " I " + std::to_string(c.I) + " " +
               std::string(dtype_name(c.wt)));
  Context& ctx = test::context();
  if (!ops::mlp_decode_available(ctx.caps(), c.M)) GTEST_SKIP() << "no f32 atomic add on this device";
  const auto x = test::random_uniform(size_t(c.M * c.H), 31, -3.0f, 3.0f);
  const auto h0 =
      c.add_x ? std::vector<float>(size_t(c.M * c.H), 0.0f) : test::random_uniform(size_t(c.M * c.H), 32, -1.0f, 1.0f);
  const auto gu = test::random_uniform(size_t(2 * c.I * c.H), 33, -1.0f, 1.0f);
  const auto dw = test::random_uniform(size_t(c.H * c.I), 34, -1.0f, 1.0f);
  const auto nw = test::random_uniform(size_t(c.H), 35, 0.5f, 1.5f);
  const ops::PackedWeights pgu = ops::pack_weights(gu, c.wt), pdw = ops::pack_weights(dw, c.wt),
                           pnw = ops::pack_weights(nw, c.wt);
  Buffer bx = test::upload(ctx, x), bh = test::upload(ctx, h0), bgu = test::upload_weights(ctx, pgu),
         bdw = test::upload_weights(ctx, pdw), bnw = test::upload_weights(ctx, pnw);

  Graph g(ctx);
  ops::mlp_decode(g, ops::external(g, bx, DType::F32, {c.M, c.H}), ops::external(g, bnw, c.wt, {c.H}), kEps,
                  ops::external(g, bgu, c.wt, {2 * c.I, c.H}), ops::external(g, bdw, c.wt, {c.H, c.I}),
                  ops::external(g, bh, DType::F32, {c.M, c.H}), "mlp", c.add_x);
  Program p = g.compile();
  p.run();

  const auto xn = ops::ref::rms_norm(x, pnw.rounded, c.M, c.H, kEps);
  std::vector<float> gate_up(size_t(c.M * 2 * c.I)), ref = c.add_x ? x : h0;
  ops::matmul_ref(xn, pgu.rounded, {}, gate_up, c.M, 2 * c.I, c.H);
  const auto act = ops::ref::swiglu(gate_up, c.M, c.I);
  ops::matmul_ref(act, pdw.rounded, {}, ref, c.M, c.H, c.I, true);
  EXPECT_LE(test::max_rel_error(ref, test::download(ctx, bh, ref.size())), 1e-5);
}

}  // namespace

// The 256M shape, then odd sizes: H not a multiple of 8 (scalar loads), I not a multiple of
// the 8 units per workgroup (a partial last workgroup), two rows, every dtype.
TEST(MlpDecode, MatchesNormMatmulSwigluMatmul) {
  run_case({1, 576, 1536});
  run_case({2, 64, 40, DType::F16});
  run_case({1, 36, 44, DType::F32});
  run_case({2, 100, 21, DType::BF16});
  run_case({2, 64, 40, DType::BF16, true});
  run_case({1, 36, 44, DType::F16, true});
}

TEST(MlpDecode, BadShapesAreErrors) {
  Context& ctx = test::context();
  if (!ops::mlp_decode_available(ctx.caps(), 1)) GTEST_SKIP() << "no f32 atomic add on this device";
  Buffer b = ctx.create_buffer(1 << 16), b2 = ctx.create_buffer(1 << 12);
  Graph g(ctx);
  auto t = [&](const Buffer& buf, DType d, std::vector<int64_t> s, uint64_t off = 0) {
    return ops::external(g, buf, d, std::move(s), off);
  };
  const Tensor x = t(b2, DType::F32, {1, 16}), nw = t(b, DType::BF16, {16});
  EXPECT_THROW(ops::mlp_decode(g, x, nw, kEps, t(b, DType::BF16, {16, 16}), t(b, DType::BF16, {16, 9}),
                               t(b2, DType::F32, {1, 16}, 256)),
               std::invalid_argument);  // down_w must be [H, I] = [16, 8]
  EXPECT_THROW(ops::mlp_decode(g, x, nw, kEps, t(b, DType::BF16, {16, 16}), t(b, DType::BF16, {16, 8}), x),
               std::invalid_argument);  // x aliases h
  EXPECT_THROW(ops::mlp_decode(g, t(b2, DType::F32, {3, 16}), nw, kEps, t(b, DType::BF16, {16, 16}),
                               t(b, DType::BF16, {16, 8}), t(b2, DType::F32, {3, 16}, 512)),
               std::invalid_argument);  // three rows
  EXPECT_NO_THROW(ops::mlp_decode(g, x, nw, kEps, t(b, DType::BF16, {16, 16}), t(b, DType::BF16, {16, 8}),
                                  t(b2, DType::F32, {1, 16}, 256)));
}
