#include <gtest/gtest.h>

#include "model/ops/patch_embed.h"
#include "loader/preprocess.h"
#include "model/ops/patch_embed_ref.h"
#include "tests/ops/test_norm_util.h"

using namespace smolvk;

namespace {
struct Im2colCase {
  int64_t n, c, h, w, p;
};

// A direct Conv2d (kernel = stride = p, no padding, no bias) in double, out [n, ph·pw, hidden].
std::vector<double> conv(const std::vector<float>& px, const std::vector<float>& wt, const Im2colCase& s,
                         int64_t hidden) {
  const int64_t ph = s.h / s.p, pw = s.w / s.p;
  std::vector<double> out(size_t(s.n * ph * pw * hidden));
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t y = 0; y < ph; ++y)
      for (int64_t x = 0; x < pw; ++x)
        for (int64_t o = 0; o < hidden; ++o) {
          double acc = 0;
          for (int64_t ch = 0; ch < s.c; ++ch)
            for (int64_t ky = 0; ky < s.p; ++ky)
              for (int64_t kx = 0; kx < s.p; ++kx)
                acc += double(wt[size_t(((o * s.c + ch) * s.p + ky) * s.p + kx)]) *
                       px[size_t(((b * s.c + ch) * s.h + y * s.p + ky) * s.w + x * s.p + kx)];
          out[size_t(((b * ph + y) * pw + x) * hidden + o)] = acc;
        }
  return out;
}
}  // namespace

// Pure data movement: exact equality with the CPU reference, and the layout is the one
// that turns the conv into patches · weight[hidden, C·p·p]ᵀ.
TEST(Patch, Im2colMatchesConvLayout) {
  for (Im2colCase s : {Im2colCase{1, 3, 32, 32, 16}, {2, 3, 35, 30, 7}, {3, 3, 58, 58, 14}, {1, 2, 9, 20, 3}}) {
    SCOPED_TRACE(testing::Message() << s.n << "x" << s.c << "x" << s.h << "x" << s.w << " p=" << s.p);
    const auto px = test::random_floats(size_t(s.n * s.c * s.h * s.w), uint32_t(s.h * s.w));
    const int64_t seq = (s.h / s.p) * (s.w / s.p), k = s.c * s.p * s.p;
    Buffer pb = test::upload(px), ob = test::upload(std::vector<float>(size_t(s.n * seq * k)));
    Graph g(test::context());
    ops::im2col(g, test::tensor(g, pb, DType::F32, {s.n, s.c, s.h, s.w}),
                test::tensor(g, ob, DType::F32, {s.n, seq, k}), int(s.p));
    g.compile().run();
    const auto got = test::download<float>(ob, size_t(s.n * seq * k));
    const auto want = ops::ref::im2col(px, s.n, s.c, s.h, s.w, s.p);
    ASSERT_EQ(got, want);

    const int64_t hidden = 5;
    const auto wt = test::random_floats(size_t(hidden * k), 3);
    const auto direct = conv(px, wt, s, hidden);
    double maxd = 0;
    for (int64_t t = 0; t < s.n * seq; ++t)
      for (int64_t o = 0; o < hidden; ++o) {
        double acc = 0;
        for (int64_t f = 0; f < k; ++f) acc += double(got[size_t(t * k + f)]) * wt[size_t(o * k + f)];
        const double d = std::abs(acc - direct[size_t(t * hidden + o)]);
        if (!(d <= maxd)) maxd = d;  // a NaN difference sticks (std::max would drop it)
      }
    EXPECT_LT(maxd, 1e-9);  // same products, same order: equal up to double rounding
  }
}

// Byte pixels through the processor's table: the same patches as normalizing on the host
// (loader's normalize_pixels, then the float im2col), to the bit.
TEST(Patch, Im2colFromBytesThroughTheTable) {
  for (Im2colCase s : {Im2colCase{1, 3, 32, 32, 16}, {2, 3, 36, 30, 7}, {3, 3, 28, 28, 14}, {1, 2, 10, 20, 3}}) {
    SCOPED_TRACE(testing::Message() << s.n << "x" << s.c << "x" << s.h << "x" << s.w << " p=" << s.p);
    const size_t count = size_t(s.n * s.c * s.h * s.w);
    ASSERT_EQ(count % 4, 0u);
    std::vector<uint8_t> px(count);
    for (size_t i = 0; i < count; ++i) px[i] = uint8_t((i * 131 + i / 7) & 0xff);
    px[0] = 0;
    px[count - 1] = 255;
    const auto lut = test::random_floats(size_t(s.c * 256), 11);
    const int64_t seq = (s.h / s.p) * (s.w / s.p), k = s.c * s.p * s.p;
    Buffer pb = test::upload(px), lb = test::upload(lut), ob = test::upload(std::vector<float>(size_t(s.n * seq * k)));
    Graph g(test::context());
    const ops::Tensor lt = test::tensor(g, lb, DType::F32, {s.c, 256});
    ops::im2col(g, test::tensor(g, pb, DType::U8, {s.n, s.c, s.h, s.w}), test::tensor(g, ob, DType::F32, {s.n, seq, k}),
                int(s.p), "im2col", &lt);
    g.compile().run();
    const auto floats = normalize_pixels(px, lut, s.h * s.w);
    EXPECT_EQ(test::download<float>(ob, size_t(s.n * seq * k)), ops::ref::im2col(floats, s.n, s.c, s.h, s.w, s.p));
  }
}

TEST(Patch, AddPositionEmbeddingAllDtypes) {
  struct C {
    int64_t n, seq, hidden, table_rows;
  };
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    for (C c : {C{1, 16, 12, 16}, C{2, 49, 37, 49}, C{3, 25, 129, 36}}) {
      SCOPED_TRACE(testing::Message() << dtype_name(t) << " n=" << c.n << " S=" << c.seq << " H=" << c.hidden);
      const auto x = test::random_floats(size_t(c.n * c.seq * c.hidden), 1);
      const auto table = test::pack(test::random_floats(size_t(c.table_rows * c.hidden), 2), t);
      std::vector<int32_t> ids(size_t(c.n * c.seq));
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7) % size_t(c.table_rows));
      ids[1] = -3;                          // clamped to 0
      ids[2] = int32_t(c.table_rows) + 10;  // clamped to the last row
      Buffer xb = test::upload(x), tb = test::upload(table.bytes), ib = test::upload(ids);
      Graph g(test::context());
      ops::add_position_embedding(g, test::tensor(g, xb, DType::F32, {c.n, c.seq, c.hidden}),
                                  test::tensor(g, tb, t, {c.table_rows, c.hidden}),
                                  test::tensor(g, ib, DType::I32, {c.n, c.seq}));
      g.compile().run();
      // One f32 add of the widened table value: exact.
      EXPECT_EQ(test::download<float>(xb, x.size()), ops::ref::add_position_embedding(x, table.values, ids, c.hidden));
    }
}

TEST(Patch, RejectsBadShapes) {
  Buffer b = test::upload(std::vector<float>(4096));
  Graph g(test::context());
  EXPECT_THROW(ops::im2col(g, test::tensor(g, b, DType::F32, {1, 3, 32, 32}),
                           test::tensor(g, b, DType::F32, {1, 4, 3 * 16 * 16 - 1}), 16),
               std::invalid_argument);
  Buffer bytes = test::upload(std::vector<uint8_t>(3 * 16 * 16));
  Buffer lut = test::upload(std::vector<float>(3 * 256));
  const ops::Tensor lt = test::tensor(g, lut, DType::F32, {3, 256}), short_lt = test::tensor(g, lut, DType::F32, {2, 256});
  const ops::Tensor out = test::tensor(g, b, DType::F32, {1, 9, 3 * 5 * 5});
  // bytes without a table, a table of the wrong channel count, a byte count not in words
  EXPECT_THROW(ops::im2col(g, test::tensor(g, bytes, DType::U8, {1, 3, 15, 15}), out, 5), std::invalid_argument);
  EXPECT_THROW(ops::im2col(g, test::tensor(g, bytes, DType::U8, {1, 3, 16, 16}), test::tensor(g, b, DType::F32, {1, 9, 75}),
                           5, "im2col", &short_lt),
               std::invalid_argument);
  EXPECT_THROW(ops::im2col(g, test::tensor(g, bytes, DType::U8, {1, 3, 15, 15}), out, 5, "im2col", &lt),
               std::invalid_argument);
  EXPECT_THROW(
      ops::add_position_embedding(g, test::tensor(g, b, DType::F32, {1, 4, 8}), test::tensor(g, b, DType::F32, {16, 9}),
                                  test::tensor(g, b, DType::I32, {1, 4})),
      std::invalid_argument);
}
