#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <array>
#include <limits>
#include <numeric>
#include <set>

#include "model/ops/logits.h"
#include "model/ops/logits_ref.h"
#include "tests/ops/test_norm_util.h"

using namespace smolvk;

namespace {

std::vector<int32_t> gpu_argmax(const std::vector<float>& logits, int64_t rows, int64_t vocab) {
  Buffer lb = test::upload(logits), ib = test::upload(std::vector<int32_t>(size_t(rows), -1));
  Graph g(test::context());
  ops::argmax(g, test::tensor(g, lb, DType::F32, {rows, vocab}), test::tensor(g, ib, DType::I32, {rows}));
  g.compile().run();
  return test::download<int32_t>(ib, size_t(rows));
}

std::vector<int32_t> gpu_sample(const std::vector<float>& logits, int64_t rows, int64_t vocab,
                                const ops::SamplingParams& p, uint32_t step) {
  Buffer lb = test::upload(logits), ib = test::upload(std::vector<int32_t>(size_t(rows), -1));
  Graph g(test::context());
  ops::sample(g, test::tensor(g, lb, DType::F32, {rows, vocab}), test::tensor(g, ib, DType::I32, {rows}), p, step);
  g.compile().run();
  return test::download<int32_t>(ib, size_t(rows));
}

std::vector<float> random_logits(int64_t rows, int64_t vocab, uint32_t seed) {
  return test::random_floats(size_t(rows * vocab), seed, -4.0f, 4.0f);
}

}  // namespace

TEST(Logits, ArgmaxWithTiesAndLongRows) {
  for (auto [rows, vocab] : {std::pair<int64_t, int64_t>{1, 12}, {3, 1001}, {2, 128259}}) {
    SCOPED_TRACE(testing::Message() << rows << "x" << vocab);
    auto l = random_logits(rows, vocab, uint32_t(vocab));
    l[size_t(vocab - 1)] = 9.0f;  // row 0: a tie at the end and in the middle → lowest wins
    l[size_t(vocab / 2)] = 9.0f;
    if (rows > 1) {
      for (int64_t i = 0; i < vocab; ++i) l[size_t(vocab + i)] = -std::numeric_limits<float>::infinity();
      l[size_t(2 * vocab - 1)] = -1e30f;  // row 1: all -inf but the last
    }
    const auto got = gpu_argmax(l, rows, vocab);
    EXPECT_EQ(got, ops::ref::argmax(l, rows, vocab));
    EXPECT_EQ(got[0], vocab / 2);
    if (rows > 1) {
      EXPECT_EQ(got[1], vocab - 1);
    }
  }
}

// The GPU and the CPU twin run the same algorithm on the same noise: ids match exactly.
TEST(Logits, SampleMatchesCpuTwin) {
  struct C {
    int64_t rows, vocab;
    ops::SamplingParams p;
    uint32_t step;
  };
  const C cases[] = {
      {1, 37, {0.8f, 0, 1.0f, 42}, 0},
      {3, 1001, {1.2f, 50, 0.9f, 7}, 5},
      {2, 5003, {0.7f, 0, 0.8f, 123456789012345ull}, 17},
      {16, 300, {1.0f, 10, 1.0f, 3}, 2},
      {3, 9001, {1.0f, 0, 0.95f, 99}, 1},
  };
  for (const C& c : cases) {
    SCOPED_TRACE(testing::Message() << c.rows << "x" << c.vocab << " T=" << c.p.temperature << " k=" << c.p.top_k
                                    << " p=" << c.p.top_p);
    const auto l = random_logits(c.rows, c.vocab, uint32_t(c.vocab + c.rows));
    EXPECT_EQ(gpu_sample(l, c.rows, c.vocab, c.p, c.step), ops::ref::sample(l, c.rows, c.vocab, c.p, c.step));
  }
}

// One recorded program, replayed with the step in the params buffer: fresh noise each time.
TEST(Logits, ReplayReadsStepFromParams) {
  const int64_t rows = 4, vocab = 777;
  const auto l = random_logits(rows, vocab, 5);
  const ops::SamplingParams p{1.0f, 0, 1.0f, 2024};
  Buffer lb = test::upload(l), ib = test::upload(std::vector<int32_t>(size_t(rows)));
  Graph g(test::context());
  ops::sample(g, test::tensor(g, lb, DType::F32, {rows, vocab}), test::tensor(g, ib, DType::I32, {rows}), p,
              ops::ParamWord{g.params(), 3});
  Program prog = g.compile();
  std::set<std::vector<int32_t>> seen;
  for (uint32_t step = 0; step < 6; ++step) {
    prog.set_param(3, step);
    prog.run();
    const auto got = test::download<int32_t>(ib, size_t(rows));
    EXPECT_EQ(got, ops::ref::sample(l, rows, vocab, p, step)) << "step " << step;
    seen.insert(got);
  }
  EXPECT_GE(seen.size(), 5u);  // 4 tokens out of 777 each step: repeats are very unlikely
}

// Temperature 1 over log([0.1, 0.2, 0.3, 0.4]): frequencies within 3σ of the distribution,
// over 2000 rows of one dispatch (GPU) and over 2000 steps of one row (CPU twin).
TEST(Logits, SampleFrequenciesFollowSoftmax) {
  const std::vector<double> prob{0.1, 0.2, 0.3, 0.4};
  const int64_t n = 2000;
  std::vector<float> row;
  for (double q : prob) row.push_back(float(std::log(q)));
  std::vector<float> l;
  for (int64_t r = 0; r < n; ++r) l.insert(l.end(), row.begin(), row.end());
  const ops::SamplingParams p{1.0f, 0, 1.0f, 77};
  const auto by_rows = gpu_sample(l, n, 4, p, 0);
  std::vector<int32_t> by_steps;
  for (uint32_t s = 0; s < n; ++s) by_steps.push_back(ops::ref::sample(row, 1, 4, p, s)[0]);
  for (const std::vector<int32_t>* ids : std::array<const std::vector<int32_t>*, 2>{&by_rows, &by_steps}) {
    std::vector<int64_t> count(4, 0);
    for (int32_t id : *ids) {
      ASSERT_GE(id, 0);
      ASSERT_LT(id, 4);
      ++count[size_t(id)];
    }
    for (size_t i = 0; i < 4; ++i) {
      const double mean = double(n) * prob[i], sigma = std::sqrt(double(n) * prob[i] * (1 - prob[i]));
      EXPECT_LE(std::abs(double(count[i]) - mean), 3 * sigma) << "token " << i << " count " << count[i];
    }
  }
}

TEST(Logits, TopKOneAndTinyTopPAreArgmax) {
  const int64_t rows = 6, vocab = 4099;
  const auto l = random_logits(rows, vocab, 8);
  const auto want = ops::ref::argmax(l, rows, vocab);
  EXPECT_EQ(gpu_sample(l, rows, vocab, {0.9f, 1, 1.0f, 1}, 0), want);
  EXPECT_EQ(gpu_sample(l, rows, vocab, {1.3f, 0, 1e-6f, 1}, 0), want);
  EXPECT_EQ(gpu_sample(l, rows, vocab, {1.3f, 40, 1e-6f, 1}, 3), want);
  EXPECT_EQ(gpu_sample(l, rows, vocab, {0.0f, 0, 1.0f, 1}, 0), want);  // greedy
}

TEST(Logits, TopKKeepsOnlyTheKBest) {
  const int64_t rows = 500, vocab = 50, k = 3;
  std::vector<float> row(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) row[size_t(i)] = float((i * 17) % vocab) * 0.05f;  // distinct
  std::vector<float> l;
  for (int64_t r = 0; r < rows; ++r) l.insert(l.end(), row.begin(), row.end());
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row[size_t(a)] > row[size_t(b)]; });
  const std::set<int32_t> top(order.begin(), order.begin() + k);
  const auto ids = gpu_sample(l, rows, vocab, {5.0f, int32_t(k), 1.0f, 11}, 0);  // T=5: nearly flat
  EXPECT_EQ(std::set<int32_t>(ids.begin(), ids.end()), top);
}

TEST(Logits, SeedsAreReproducibleAndDistinct) {
  const int64_t rows = 64, vocab = 513;
  const auto l = random_logits(rows, vocab, 9);
  const auto a = gpu_sample(l, rows, vocab, {1.0f, 0, 1.0f, 5}, 0);
  EXPECT_EQ(a, gpu_sample(l, rows, vocab, {1.0f, 0, 1.0f, 5}, 0));
  EXPECT_NE(a, gpu_sample(l, rows, vocab, {1.0f, 0, 1.0f, 6}, 0));
  EXPECT_NE(a, gpu_sample(l, rows, vocab, {1.0f, 0, 1.0f, 5ull | (1ull << 40)}, 0));  // high seed bits count
}

TEST(Logits, RejectsBadInput) {
  Buffer b = test::upload(std::vector<float>(64));
  Graph g(test::context());
  auto l = test::tensor(g, b, DType::F32, {2, 8});
  auto ids = test::tensor(g, b, DType::I32, {2});
  EXPECT_THROW(ops::argmax(g, l, test::tensor(g, b, DType::I32, {3})), std::invalid_argument);
  EXPECT_THROW(ops::sample(g, l, ids, {1.0f, -1, 1.0f, 0}, 0u), std::invalid_argument);
  EXPECT_THROW(ops::sample(g, l, ids, {1.0f, 0, 0.0f, 0}, 0u), std::invalid_argument);
  EXPECT_THROW(ops::sample(g, l, ids, {1.0f, 0, 1.0f, 0}, ops::ParamWord{g.params(), Graph::kParamWords}),
               std::invalid_argument);
}
