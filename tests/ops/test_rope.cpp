// RoPE: the host table against transformers' float32 recipe, and the GPU ops against the CPU
// reference. Tolerance: 1e-6 relative (both sides do the same float32 products and sums, so
// they agree to rounding).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/ops/rope.h"
#include "model/ops/rope_ref.h"
#include "tests/ops/op_test_util.h"
#include "tests/test_util.h"

using namespace smolvk;

namespace {
using test::download;
using test::random_floats;
using test::upload;
}  // namespace

TEST(RopeTable, DefaultFrequenciesAndFloat32Angles) {
  const auto inv = ops::rope_inv_freq(4, 10000.0);
  ASSERT_EQ(inv.size(), 2u);
  EXPECT_EQ(inv[0], 1.0f);
  EXPECT_EQ(inv[1], 1.0f / float(std::pow(10000.0, double(0.5f))));
  // θ = 1e5, D = 64 (SmolVLM-256M): inv_freq within 1 float ulp of the exact value.
  const auto inv64 = ops::rope_inv_freq(64, 1e5);
  for (int i = 0; i < 32; ++i) {
    const double exact = std::pow(1e5, -double(2 * i) / 64.0);
    EXPECT_NEAR(inv64[i], exact, 1.2e-7 * exact) << i;
  }
  // The angle is float32(pos · inv_freq) (what transformers' float32 matmul yields), then
  // cos/sin of that float: at position 70000 this differs from the double-precision angle.
  const int64_t P = 70001;
  const auto table = ops::rope_table(P, 64, 1e5);
  ASSERT_EQ(table.size(), size_t(P) * 32 * 2);
  const size_t i = 5, at = (size_t(P - 1) * 32 + i) * 2;
  const float angle = float(P - 1) * inv64[i];
  EXPECT_EQ(table[at], float(std::cos(double(angle))));
  EXPECT_EQ(table[at + 1], float(std::sin(double(angle))));
  EXPECT_NE(table[at], float(std::cos(double(P - 1) * double(inv64[i]))));
  EXPECT_EQ(table[0], 1.0f);  // position 0
  EXPECT_EQ(table[1], 0.0f);
}

TEST(RopeTable, Llama3Scaling) {
  RopeScaling s{RopeKind::Llama3, 8.0, 1.0, 4.0, 8192};
  const auto base = ops::rope_inv_freq(128, 5e5);
  const auto inv = ops::rope_inv_freq(128, 5e5, &s);
  int high = 0, low = 0, mid = 0;
  for (size_t i = 0; i < inv.size(); ++i) {
    const double wavelen = 2 * M_PI / base[i];
    if (wavelen < 8192.0 / 4.0) {
      EXPECT_EQ(inv[i], base[i]) << i;  // high frequencies untouched
      ++high;
    } else if (wavelen > 8192.0) {
      EXPECT_NEAR(inv[i], base[i] / 8.0, 1e-7 * base[i]) << i;  // low frequencies / factor
      ++low;
    } else {
      const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
      const double expect = (1 - smooth) * base[i] / 8.0 + smooth * base[i];
      EXPECT_NEAR(inv[i], expect, 1e-6 * expect) << i;
      ++mid;
    }
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(mid, 0);
  RopeScaling lin{RopeKind::Linear, 4.0};
  EXPECT_EQ(ops::rope_inv_freq(8, 1e4, &lin)[1], ops::rope_inv_freq(8, 1e4)[1] / 4.0f);
}

TEST(RopeTable, RejectsBadArguments) {
  EXPECT_THROW(ops::rope_table(10, 7, 1e4), std::invalid_argument);
  EXPECT_THROW(ops::rope_table(0, 8, 1e4), std::invalid_argument);
  EXPECT_THROW(ops::rope_table(10, 8, -1.0), std::invalid_argument);
  RopeScaling bad{RopeKind::Llama3, 8.0, 4.0, 1.0, 8192};
  EXPECT_THROW(ops::rope_inv_freq(8, 1e4, &bad), std::invalid_argument);
}

struct QkvCase {
  int64_t B, T, Hq, Hkv, D, C;
  std::vector<int32_t> positions;  // B·T
  int64_t table_rows;
};

class RopeQkv : public testing::TestWithParam<QkvCase> {};

TEST_P(RopeQkv, MatchesReference) {
  const QkvCase c = GetParam();
  Context& ctx = test::context();
  const int64_t heads = c.Hq + 2 * c.Hkv, rows = c.B * c.T;
  const auto qkv = random_floats(size_t(rows * heads * c.D), 11);
  const auto table = ops::rope_table(c.table_rows, int(c.D), 1e5);
  // Caches start with known contents: rows not written must keep them.
  const auto cache0 = random_floats(size_t(c.B * c.Hkv * c.C * c.D), 12);
  Buffer qkv_b = upload(ctx, qkv), pos_b = upload(ctx, c.positions), tab_b = upload(ctx, table);
  Buffer kc = upload(ctx, cache0), vc = upload(ctx, cache0);
  Buffer qo = upload(ctx, std::vector<float>(size_t(rows * c.Hq * c.D), 0.0f));

  Graph g(ctx);
  ops::rope_qkv_write(
      g, ops::external(g, qkv_b, DType::F32, {rows, heads * c.D}), ops::external(g, pos_b, DType::I32, {rows}),
      ops::external(g, tab_b, DType::F32, {c.table_rows, c.D / 2, 2}),
      ops::external(g, qo, DType::F32, {c.B, c.T, c.Hq, c.D}), ops::external(g, kc, DType::F32, {c.B, c.Hkv, c.C, c.D}),
      ops::external(g, vc, DType::F32, {c.B, c.Hkv, c.C, c.D}));
  g.compile().run();

  std::vector<float> q_ref(size_t(rows * c.Hq * c.D)), k_ref = cache0, v_ref = cache0;
  ops::rope_qkv_write_ref(qkv, c.positions, table, c.B, c.T, c.Hq, c.Hkv, c.D, c.C, q_ref, k_ref, v_ref);
  EXPECT_LE(test::max_rel_error(q_ref, download(ctx, qo, q_ref.size())), 1e-6);
  const auto k_got = download(ctx, kc, k_ref.size()), v_got = download(ctx, vc, v_ref.size());
  EXPECT_LE(test::max_rel_error(k_ref, k_got), 1e-6);
  EXPECT_EQ(v_ref, v_got);  // v is copied, not rotated
  // Spot check the rotation itself on token 0, k head 0, pair 0.
  const int32_t p = c.positions[0];
  const float cs = table[size_t(p) * c.D], sn = table[size_t(p) * c.D + 1];
  const float* k0 = &qkv[size_t(c.Hq * c.D)];
  EXPECT_NEAR(k_got[size_t(p * c.D)], k0[0] * cs - k0[c.D / 2] * sn, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RopeQkv,
                         testing::Values(QkvCase{1, 5, 3, 1, 12, 16, {3, 4, 5, 6, 7}, 16},
                                         // two batch rows at different positions (each row's positions are distinct
                                         // cache slots: two tokens writing one slot would race on a parallel GPU)
                                         QkvCase{
                                             2, 7, 4, 2, 20, 37, {0, 1, 2, 3, 4, 5, 6, 30, 31, 32, 33, 34, 35, 36}, 37},
                                         // decode at the last cache row
                                         QkvCase{1, 1, 9, 3, 64, 1100, {1099}, 1100},
                                         // batch row 1's position is past the table: nothing is written for it
                                         QkvCase{2, 1, 2, 2, 128, 9, {8, 40}, 9}));

TEST(Rope, InplaceMatchesReference) {
  Context& ctx = test::context();
  const int64_t rows = 11, H = 3, D = 16, P = 50;
  auto x = random_floats(size_t(rows * H * D), 5);
  std::vector<int32_t> pos(rows);
  for (int64_t r = 0; r < rows; ++r) pos[r] = int32_t((r * 7) % P);
  const auto table = ops::rope_table(P, int(D), 1e4);
  Buffer xb = upload(ctx, x), pb = upload(ctx, pos), tb = upload(ctx, table);
  Graph g(ctx);
  ops::rope_inplace(g, ops::external(g, xb, DType::F32, {rows, H, D}), ops::external(g, pb, DType::I32, {rows}),
                    ops::external(g, tb, DType::F32, {P, D / 2, 2}));
  g.compile().run();
  ops::rope_inplace_ref(x, rows, H, D, pos, table);
  EXPECT_LE(test::max_rel_error(x, download(ctx, xb, x.size())), 1e-6);
}

TEST(Rope, ShapeErrorsAreExceptions) {
  Context& ctx = test::context();
  Buffer b = ctx.create_buffer(1 << 16);
  Graph g(ctx);
  auto t = [&](DType d, std::vector<int64_t> s) { return ops::external(g, b, d, std::move(s)); };
  // qkv row too narrow for Hq + 2·Hkv heads
  EXPECT_THROW(
      ops::rope_qkv_write(g, t(DType::F32, {5, 32}), t(DType::I32, {5}), t(DType::F32, {16, 4, 2}),
                          t(DType::F32, {1, 5, 3, 8}), t(DType::F32, {1, 1, 16, 8}), t(DType::F32, {1, 1, 16, 8})),
      std::invalid_argument);
  // table for another head dim
  EXPECT_THROW(ops::rope_inplace(g, t(DType::F32, {4, 2, 8}), t(DType::I32, {4}), t(DType::F32, {16, 3, 2})),
               std::invalid_argument);
  // positions of the wrong dtype
  EXPECT_THROW(ops::rope_inplace(g, t(DType::F32, {4, 2, 8}), t(DType::F32, {4}), t(DType::F32, {16, 4, 2})),
               std::invalid_argument);
  try {
    ops::rope_inplace(g, t(DType::F32, {4, 2, 7}), t(DType::I32, {4}), t(DType::F32, {16, 4, 2}));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("f32[4,2,7]"), std::string::npos) << e.what();
  }
}
