#include <gtest/gtest.h>

#include "model/ops/norm.h"
#include "model/ops/norm_ref.h"
#include "tests/ops/test_norm_util.h"

using namespace smolvk;

namespace {

struct NormCase {
  int64_t rows, cols;
  DType dtype;
  bool layer;
  bool in_place;
  bool half_out = false;  // f16 y: the f32 result rounded once (one f16 step, 2^-11 relative)
};

// f32 reductions: the GPU sums in f32 in a different order than the double CPU reference.
constexpr double kTol = 2e-6;

void run_norm(const NormCase& c) {
  SCOPED_TRACE(testing::Message() << (c.layer ? "layer_norm" : "rms_norm") << " rows=" << c.rows << " cols=" << c.cols
                                  << " " << dtype_name(c.dtype) << (c.in_place ? " in-place" : "")
                                  << (c.half_out ? " f16 y" : ""));
  const size_t n = size_t(c.rows * c.cols);
  auto x = test::random_floats(n, uint32_t(c.cols * 7 + c.rows), -3.0f, 3.0f);
  for (size_t i = 0; i < n; i += 5) x[i] += 2.0f;  // a nonzero mean for LayerNorm
  const auto w = test::pack(test::random_floats(size_t(c.cols), 11, 0.5f, 1.5f), c.dtype);
  const auto b = test::pack(test::random_floats(size_t(c.cols), 12, -0.5f, 0.5f), c.dtype);
  const float eps = c.layer ? 1e-6f : 1e-5f;

  Buffer xb = test::upload(x), wb = test::upload(w.bytes), bb = test::upload(b.bytes);
  Buffer yb = c.in_place ? xb : test::upload(std::vector<float>(n, 0.0f));
  Graph g(test::context());
  auto xt = test::tensor(g, xb, DType::F32, {c.rows, c.cols});
  auto yt = c.in_place ? xt : test::tensor(g, yb, c.half_out ? DType::F16 : DType::F32, {c.rows, c.cols});
  auto wt = test::tensor(g, wb, c.dtype, {c.cols});
  if (c.layer)
    ops::layer_norm(g, xt, wt, test::tensor(g, bb, c.dtype, {c.cols}), yt, eps);
  else
    ops::rms_norm(g, xt, wt, yt, eps);
  g.compile().run();

  const auto want = c.layer ? ops::ref::layer_norm(x, w.values, b.values, c.rows, c.cols, eps)
                            : ops::ref::rms_norm(x, w.values, c.rows, c.cols, eps);
  if (c.half_out) {
    const auto bits = test::download<uint16_t>(yb, n);
    std::vector<float> got(n), want16(n);
    for (size_t i = 0; i < n; ++i) {
      got[i] = ops::f16_to_f32(bits[i]);
      want16[i] = ops::f16_to_f32(ops::f32_to_f16(want[i]));
    }
    // The GPU's f32 result may sit on the other side of an f16 rounding boundary: one step.
    EXPECT_LE(test::max_rel_error(want16, got), 1e-3);
    EXPECT_LE(test::max_rel_error(want, got), 1e-3);
    return;
  }
  const auto got = test::download<float>(yb, n);
  EXPECT_LE(test::max_rel_error(want, got), kTol);
}

}  // namespace

TEST(Norm, RmsNormAllDtypesOddShapes) {
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 12}, {3, 37}, {5, 577}, {2, 4096}})
      run_norm({rows, cols, t, false, false});
}

TEST(Norm, LayerNormAllDtypesOddShapes) {
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 12}, {3, 37}, {5, 577}, {2, 4096}})
      run_norm({rows, cols, t, true, false});
}

TEST(Norm, HalfOutput) {
  for (bool layer : {false, true})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 12}, {3, 38}, {5, 768}})
      run_norm({rows, cols, DType::BF16, layer, false, true});
  Buffer xb = test::upload(std::vector<float>(12, 1.0f));
  Graph g(test::context());
  try {  // an odd row length cannot be written as f16 pairs
    ops::rms_norm(g, test::tensor(g, xb, DType::F32, {4, 3}), test::tensor(g, xb, DType::F32, {3}),
                  test::tensor(g, xb, DType::F16, {4, 3}), 1e-6f);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("even"), std::string::npos) << e.what();
  }
}

TEST(Norm, InPlace) {
  run_norm({7, 131, DType::BF16, false, true});
  run_norm({4, 769, DType::F16, true, true});
}

TEST(Norm, RejectsBadShapes) {
  Buffer xb = test::upload(std::vector<float>(12, 1.0f));
  Graph g(test::context());
  auto x = test::tensor(g, xb, DType::F32, {3, 4});
  auto w = test::tensor(g, xb, DType::F32, {5});
  try {
    ops::rms_norm(g, x, w, x, 1e-6f);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(
      ops::layer_norm(g, x, test::tensor(g, xb, DType::I32, {4}), test::tensor(g, xb, DType::I32, {4}), x, 1e-6f),
      std::invalid_argument);
}
