#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "model/ops/activation.h"
#include "model/ops/activation_ref.h"
#include "tests/ops/test_norm_util.h"

using namespace smolvk;

// Elementwise f32 ops: max |gpu − cpu| / max |cpu| ≤ 1e-5 (the CPU side runs in double).
constexpr double kTol = 1e-5;

TEST(Activation, GeluTanhOutOfPlaceAndInPlace) {
  for (int64_t n : {1, 37, 1000, 70001}) {
    SCOPED_TRACE(n);
    auto x = test::random_floats(size_t(n), uint32_t(n), -8.0f, 8.0f);
    x[0] = 40.0f;  // saturated tanh must stay finite
    const auto want = ops::ref::gelu_tanh(x);
    for (bool in_place : {false, true}) {
      Buffer xb = test::upload(x);
      Buffer yb = in_place ? xb : test::upload(std::vector<float>(size_t(n)));
      Graph g(test::context());
      auto xt = test::tensor(g, xb, DType::F32, {n});
      ops::gelu_tanh(g, xt, in_place ? xt : test::tensor(g, yb, DType::F32, {n}));
      g.compile().run();
      EXPECT_LE(test::max_rel_error(want, test::download<float>(yb, size_t(n))), kTol) << in_place;
    }
  }
}

// f16 in and out (the vision encoder's activations on tensor-core devices): the CPU reference
// runs on the f16 inputs and is rounded to f16 once; the kernel computes in f32 and rounds once,
// so the two agree to one f16 step of the largest value: ≤ 2^-10 relative.
TEST(Activation, GeluTanhHalf) {
  for (int64_t n : {2, 38, 70002}) {
    SCOPED_TRACE(n);
    auto x = test::random_floats(size_t(n), uint32_t(n), -8.0f, 8.0f);
    x[0] = 40.0f;
    std::vector<uint16_t> xh(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      xh[i] = ops::f32_to_f16(x[i]);
      x[i] = ops::f16_to_f32(xh[i]);
    }
    auto want = ops::ref::gelu_tanh(x);
    for (float& v : want) v = ops::f16_to_f32(ops::f32_to_f16(v));
    for (bool in_place : {false, true}) {
      Buffer xb = test::upload(xh);
      Buffer yb = in_place ? xb : test::upload(std::vector<uint16_t>(size_t(n)));
      Graph g(test::context());
      auto xt = test::tensor(g, xb, DType::F16, {n});
      ops::gelu_tanh(g, xt, in_place ? xt : test::tensor(g, yb, DType::F16, {n}));
      g.compile().run();
      const auto got_h = test::download<uint16_t>(yb, size_t(n));
      std::vector<float> got(got_h.size());
      for (size_t i = 0; i < got.size(); ++i) got[i] = ops::f16_to_f32(got_h[i]);
      EXPECT_LE(test::max_rel_error(want, got), 1.0 / 1024) << in_place;
    }
  }
  Buffer b = test::upload(std::vector<uint16_t>(16));
  Graph g(test::context());
  EXPECT_THROW(ops::gelu_tanh(g, test::tensor(g, b, DType::F16, {7}), test::tensor(g, b, DType::F16, {7})),
               std::invalid_argument);  // an odd count
  EXPECT_THROW(ops::gelu_tanh(g, test::tensor(g, b, DType::F16, {8}), test::tensor(g, b, DType::F32, {8})),
               std::invalid_argument);
}

// A kernel fed a NaN writes NaN; the comparison every op test uses must then fail (test_util.h).
TEST(Activation, NaNOutputFailsTheComparison) {
  const int64_t n = 257;
  auto a = test::random_floats(size_t(n), 7), b = test::random_floats(size_t(n), 8);
  const auto want = ops::ref::add(a, b);  // clean reference
  b[100] = std::numeric_limits<float>::quiet_NaN();
  Buffer ab = test::upload(a), bb = test::upload(b), yb = test::upload(std::vector<float>(size_t(n)));
  Graph g(test::context());
  ops::add(g, test::tensor(g, ab, DType::F32, {n}), test::tensor(g, bb, DType::F32, {n}),
           test::tensor(g, yb, DType::F32, {n}));
  g.compile().run();
  const auto got = test::download<float>(yb, size_t(n));
  ASSERT_TRUE(std::isnan(got[100])) << "a + NaN = " << got[100];
  EXPECT_TRUE(std::isinf(test::max_rel_error(want, got)));
  EXPECT_TRUE(std::isinf(test::nmse(want, got)));
  EXPECT_FALSE(test::max_rel_error(want, got) <= kTol);
  EXPECT_NE(test::compare_problem(want, got).find("result[100] = nan"), std::string::npos)
      << test::compare_problem(want, got);
  // A result one element short must fail too, not be read past or compared over the prefix.
  EXPECT_TRUE(std::isinf(test::max_rel_error(want, std::span<const float>(want).first(size_t(n - 1)))));
}

TEST(Activation, SwiGlu) {
  for (auto [rows, inter] : {std::pair<int64_t, int64_t>{1, 12}, {3, 37}, {17, 1536}, {5, 257}}) {
    SCOPED_TRACE(testing::Message() << rows << "x" << inter);
    auto gu = test::random_floats(size_t(rows * 2 * inter), uint32_t(inter), -6.0f, 6.0f);
    Buffer gb = test::upload(gu), yb = test::upload(std::vector<float>(size_t(rows * inter)));
    Graph g(test::context());
    ops::swiglu(g, test::tensor(g, gb, DType::F32, {rows, 2 * inter}), test::tensor(g, yb, DType::F32, {rows, inter}));
    g.compile().run();
    EXPECT_LE(test::max_rel_error(ops::ref::swiglu(gu, rows, inter), test::download<float>(yb, size_t(rows * inter))),
              kTol);
  }
}

// f16 y (the text prefill's down-projection input on tensor-core devices): the f32 reference
// rounded to f16 once, the kernel's one rounding: within one f16 step of the largest value
// (2^-10 relative); odd widths and a view off a 4-byte boundary are refused.
TEST(Activation, SwiGluHalfOutput) {
  for (auto [rows, inter] : {std::pair<int64_t, int64_t>{1, 2}, {3, 38}, {17, 1536}, {5, 258}}) {
    SCOPED_TRACE(testing::Message() << rows << "x" << inter);
    auto gu = test::random_floats(size_t(rows * 2 * inter), uint32_t(inter), -6.0f, 6.0f);
    auto want = ops::ref::swiglu(gu, rows, inter);
    for (float& v : want) v = ops::f16_to_f32(ops::f32_to_f16(v));
    Buffer gb = test::upload(gu), yb = test::upload(std::vector<uint16_t>(size_t(rows * inter)));
    Graph g(test::context());
    ops::swiglu(g, test::tensor(g, gb, DType::F32, {rows, 2 * inter}), test::tensor(g, yb, DType::F16, {rows, inter}));
    g.compile().run();
    const auto got_h = test::download<uint16_t>(yb, size_t(rows * inter));
    std::vector<float> got(got_h.size());
    for (size_t i = 0; i < got.size(); ++i) got[i] = ops::f16_to_f32(got_h[i]);
    EXPECT_LE(test::max_rel_error(want, got), 1.0 / 1024);
  }
  Buffer b = test::upload(std::vector<float>(64));
  Graph g(test::context());
  EXPECT_THROW(ops::swiglu(g, test::tensor(g, b, DType::F32, {2, 6}), test::tensor(g, b, DType::F16, {2, 3})),
               std::invalid_argument);  // odd I
  EXPECT_THROW(ops::swiglu(g, test::tensor(g, b, DType::F32, {2, 8}), test::tensor(g, b, DType::BF16, {2, 4})),
               std::invalid_argument);
}

TEST(Activation, AddResidualInPlace) {
  for (int64_t n : {5, 577, 65537 * 2 + 3}) {
    SCOPED_TRACE(n);
    auto a = test::random_floats(size_t(n), 1), b = test::random_floats(size_t(n), 2);
    const auto want = ops::ref::add(a, b);
    Buffer ab = test::upload(a), bb = test::upload(b), yb = test::upload(std::vector<float>(size_t(n)));
    Graph g(test::context());
    auto at = test::tensor(g, ab, DType::F32, {n}), bt = test::tensor(g, bb, DType::F32, {n});
    ops::add(g, at, bt, test::tensor(g, yb, DType::F32, {n}));  // out of place
    ops::add(g, at, bt, at);                                    // residual: a += b
    g.compile().run();
    // Both are single f32 adds: exact.
    EXPECT_EQ(test::download<float>(yb, size_t(n)), want);
    EXPECT_EQ(test::download<float>(ab, size_t(n)), want);
  }
}

TEST(Activation, RejectsBadShapes) {
  Buffer b = test::upload(std::vector<float>(64));
  Graph g(test::context());
  EXPECT_THROW(ops::swiglu(g, test::tensor(g, b, DType::F32, {2, 9}), test::tensor(g, b, DType::F32, {2, 4})),
               std::invalid_argument);
  EXPECT_THROW(ops::add(g, test::tensor(g, b, DType::F32, {8}), test::tensor(g, b, DType::F32, {9}),
                        test::tensor(g, b, DType::F32, {8})),
               std::invalid_argument);
  EXPECT_THROW(ops::gelu_tanh(g, test::tensor(g, b, DType::BF16, {8}), test::tensor(g, b, DType::BF16, {8})),
               std::invalid_argument);
}
