#include <gtest/gtest.h>

#include "model/ops/pixel_unshuffle.h"
#include "model/ops/pixel_unshuffle_ref.h"
#include "tests/ops/test_norm_util.h"

using namespace smolvk;

namespace {
std::vector<float> run(const std::vector<float>& x, int64_t n, int64_t seq, int64_t dim, int scale) {
  const int64_t out = n * seq * dim;
  Buffer xb = test::upload(x), yb = test::upload(std::vector<float>(size_t(out)));
  Graph g(test::context());
  ops::pixel_unshuffle(g, test::tensor(g, xb, DType::F32, {n, seq, dim}),
                       test::tensor(g, yb, DType::F32, {n, seq / (scale * scale), dim * scale * scale}), scale);
  g.compile().run();
  return test::download<float>(yb, size_t(out));
}
}  // namespace

// The worked example of the reference notes: a 4×4 grid, s = 2, D = 1.
TEST(PixelUnshuffle, FourByFourExample) {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = float(i);
  const std::vector<float> want{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
  EXPECT_EQ(run(x, 1, 16, 1, 2), want);
  EXPECT_EQ(ops::ref::pixel_unshuffle(x, 1, 16, 1, 2), want);
}

// Pure data movement: the GPU must equal the view/permute chain exactly.
TEST(PixelUnshuffle, OddDimsAndScales) {
  struct C {
    int64_t n, side, dim;
    int scale;
  };
  for (C c : {C{1, 4, 3, 2}, C{2, 6, 5, 3}, C{3, 9, 7, 3}, C{1, 8, 12, 4}, C{2, 5, 2, 5}}) {
    SCOPED_TRACE(testing::Message() << "n=" << c.n << " side=" << c.side << " D=" << c.dim << " s=" << c.scale);
    const int64_t seq = c.side * c.side;
    std::vector<float> x(size_t(c.n * seq * c.dim));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(i);
    EXPECT_EQ(run(x, c.n, seq, c.dim, c.scale), ops::ref::pixel_unshuffle(x, c.n, seq, c.dim, c.scale));
  }
}

TEST(PixelUnshuffle, RejectsNonSquareOrIndivisible) {
  Buffer b = test::upload(std::vector<float>(64));
  Graph g(test::context());
  EXPECT_THROW(
      ops::pixel_unshuffle(g, test::tensor(g, b, DType::F32, {1, 12, 1}), test::tensor(g, b, DType::F32, {1, 3, 4}), 2),
      std::invalid_argument);
  EXPECT_THROW(
      ops::pixel_unshuffle(g, test::tensor(g, b, DType::F32, {1, 36, 1}), test::tensor(g, b, DType::F32, {1, 9, 4}), 4),
      std::invalid_argument);
}
