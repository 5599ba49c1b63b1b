// ops::matmul_rope_qkv (RMSNorm → qkv mat-vec → RoPE → KV-cache write in one dispatch) vs the
// CPU chain ref::rms_norm → matmul_ref → rope_qkv_write_ref. Weights are rounded to their
// dtype once and the reference sees the rounded values; tolerance max |gpu − ref| / max |ref|
// ≤ 1e-5 on q and on both caches (cache rows not written must keep their sentinel exactly).
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "model/ops/matmul.h"
#include "model/ops/matmul_ref.h"
#include "model/ops/norm_ref.h"
#include "model/ops/rope.h"
#include "model/ops/rope_ref.h"
#include "tests/ops/matmul_test_inputs.h"
#include "tests/ops/op_test_util.h"
#include "tests/test_util.h"

using namespace smolvk;
using ops::Tensor;

namespace {

constexpr double kTol = 1e-5;
constexpr float kEps = 1e-5f;
constexpr float kSentinel = 7.0f;

struct Case {
  int64_t B, T, Hq, Hkv, D, K, C;
  std::vector<int32_t> positions;  // B·T
  DType wt = DType::BF16;
  bool norm = true;
};

void run_case(const Case& c) {
  SCOPED_TRACE("B " + std::to_string(c.B) + " T " + std::to_string(c.T) + " Hq " + std::to_string(c.Hq) + " Hkv " +
               std::to_string(c.Hkv) + " D " + std::to_string(c.D) + " K " + std::to_string(c.K) + " " +
               std::string(dtype_name(c.wt)) + (c.norm ? " +norm" : ""));
  Context& ctx = test::context();
  const int64_t M = c.B * c.T, N = (c.Hq + 2 * c.Hkv) * c.D, P = c.C + 3;
  const auto x = test::random_uniform(size_t(M * c.K), 21, -3.0f, 3.0f);
  const auto w = test::random_uniform(size_t(N * c.K), 22);
  const auto nw = test::random_uniform(size_t(c.K), 23, 0.5f, 1.5f);
  const auto table = ops::rope_table(P, int(c.D), 10000.0);
  const ops::PackedWeights pw = ops::pack_weights(w, c.wt), pn = ops::pack_weights(nw, c.wt);
  const size_t cache_n = size_t(c.B * c.Hkv * c.C * c.D), q_n = size_t(M * c.Hq * c.D);
  const std::vector<float> sentinel(cache_n, kSentinel);

  Buffer bx = test::upload(ctx, x), bw = test::upload_weights(ctx, pw), bn = test::upload_weights(ctx, pn),
         bp = test::upload(ctx, c.positions), bt = test::upload(ctx, table), bq = ctx.create_buffer(q_n * 4),
         bk = test::upload(ctx, sentinel), bv = test::upload(ctx, sentinel);

  Graph g(ctx);
  const Tensor tn = ops::external(g, bn, c.wt, {c.K});
  ops::matmul_rope_qkv(g, ops::external(g, bx, DType::F32, {M, c.K}), ops::external(g, bw, c.wt, {N, c.K}),
                       {ops::external(g, bp, DType::I32, {M}), ops::external(g, bt, DType::F32, {P, c.D / 2, 2}),
                        ops::external(g, bq, DType::F32, {c.B, c.T, c.Hq, c.D}),
                        ops::external(g, bk, DType::F32, {c.B, c.Hkv, c.C, c.D}),
                        ops::external(g, bv, DType::F32, {c.B, c.Hkv, c.C, c.D})},
                       {.name = "qkv", .norm_weight = c.norm ? &tn : nullptr, .norm_eps = kEps});
  ASSERT_EQ(g.size(), 1u);
  Program prog = g.compile();
  prog.run();

  std::vector<float> xin = c.norm ? ops::ref::rms_norm(x, pn.rounded, M, c.K, kEps) : x;
  std::vector<float> qkv(size_t(M * N));
  ops::matmul_ref(xin, pw.rounded, {}, qkv, M, N, c.K);
  std::vector<float> q_ref(q_n), k_ref = sentinel, v_ref = sentinel;
  ops::rope_qkv_write_ref(qkv, c.positions, table, c.B, c.T, c.Hq, c.Hkv, c.D, c.C, q_ref, k_ref, v_ref);

  EXPECT_LE(test::max_rel_error(q_ref, test::download(ctx, bq, q_n)), kTol) << "q";
  const auto k_got = test::download(ctx, bk, cache_n), v_got = test::download(ctx, bv, cache_n);
  EXPECT_LE(test::max_rel_error(k_ref, k_got), kTol) << "k cache";
  EXPECT_LE(test::max_rel_error(v_ref, v_got), kTol) << "v cache";
  for (size_t i = 0; i < cache_n; ++i) {
    if (k_ref[i] == kSentinel) {
      ASSERT_EQ(k_got[i], kSentinel) << "k cache element " << i << " was written";
    }
  }
}

}  // namespace

// The 256M decode shape (9 q / 3 kv heads of 64, K 576), then odd head dims, MQA, two rows
// and positions near the cache end.
TEST(MatmulRopeQkv, MatchesMatmulThenRope) {
  run_case({1, 1, 9, 3, 64, 576, 40, {17}});
  run_case({1, 1, 9, 3, 64, 576, 40, {0}, DType::F32});
  run_case({1, 1, 4, 1, 12, 40, 9, {8}, DType::F16});
  run_case({2, 1, 6, 2, 20, 96, 13, {3, 11}});
  run_case({1, 2, 3, 3, 8, 33, 10, {4, 5}, DType::BF16, false});  // odd K: the scalar path
}

TEST(MatmulRopeQkv, PositionsPastTheCacheAreNotWritten) {
  // Position 12 is in the table (C + 3 rows) but past the cache of 10.
  run_case({2, 1, 2, 1, 16, 64, 10, {12, 9}});
}

TEST(MatmulRopeQkv, BadShapesAreErrors) {
  Context& ctx = test::context();
  Buffer b = ctx.create_buffer(1 << 16);
  Graph g(ctx);
  auto t = [&](DType d, std::vector<int64_t> s) { return ops::external(g, b, d, std::move(s)); };
  const ops::RopeQkvWrite r{t(DType::I32, {1}), t(DType::F32, {8, 4, 2}), t(DType::F32, {1, 1, 2, 8}),
                            t(DType::F32, {1, 1, 8, 8}), t(DType::F32, {1, 1, 8, 8})};
  // w must have (Hq + 2·Hkv)·D = 32 rows.
  EXPECT_THROW(ops::matmul_rope_qkv(g, t(DType::F32, {1, 16}), t(DType::BF16, {31, 16}), r), std::invalid_argument);
  EXPECT_THROW(ops::matmul_rope_qkv(g, t(DType::F32, {2, 16}), t(DType::BF16, {32, 16}), r), std::invalid_argument);
  EXPECT_NO_THROW(ops::matmul_rope_qkv(g, t(DType::F32, {1, 16}), t(DType::BF16, {32, 16}), r));
}
