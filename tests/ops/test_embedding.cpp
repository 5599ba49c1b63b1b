// ops::embedding vs ops::embedding_ref. A gather copies values, so the GPU result must equal
// the reference exactly (f16/bf16 tables widen exactly to f32).
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "model/ops/embedding.h"
#include "model/ops/embedding_ref.h"
#include "model/ops/matmul_ref.h"
#include "tests/test_util.h"

using namespace smolvk;

namespace {

struct Case {
  int64_t T, V, H;
  DType dt;
  uint64_t max_chunk_bytes = 0;
  uint64_t table_byte_offset = 0;
};

struct Result {
  std::vector<float> got, ref;
  size_t dispatches = 0;
};

Result run_case(const Case& c, std::vector<int32_t> ids) {
  Context& ctx = test::context();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> table(size_t(c.V * c.H));
  for (float& f : table) f = u(rng);
  const ops::PackedWeights pt = ops::pack_weights(table, c.dt);
  Buffer bi = ctx.create_buffer(ids.size() * 4);
  Buffer bt = ctx.create_buffer((c.table_byte_offset + pt.bytes.size() + 3) / 4 * 4);
  Buffer bo = ctx.create_buffer(ids.size() * size_t(c.H) * 4);
  ctx.upload(bi, ids.data(), ids.size() * 4);
  ctx.upload(bt, pt.bytes.data(), pt.bytes.size(), c.table_byte_offset);
  Graph g(ctx);
  ops::embedding(g, ops::external(g, bi, DType::I32, {c.T}),
                 ops::external(g, bt, c.dt, {c.V, c.H}, c.table_byte_offset),
                 ops::external(g, bo, DType::F32, {c.T, c.H}), "embed", c.max_chunk_bytes);
  Result r;
  r.dispatches = g.size();
  Program p = g.compile();
  p.run();
  r.got.resize(ids.size() * size_t(c.H));
  ctx.download(bo, r.got.data(), r.got.size() * 4);
  r.ref.resize(r.got.size());
  ops::embedding_ref(ids, pt.rounded, c.V, c.H, r.ref);
  return r;
}

std::vector<int32_t> random_ids(int64_t T, int64_t V) {
  std::mt19937 rng(uint32_t(T * 31 + V));
  std::uniform_int_distribution<int32_t> u(0, int32_t(V - 1));
  std::vector<int32_t> ids(static_cast<size_t>(T));
  for (auto& i : ids) i = u(rng);
  ids.back() = int32_t(V - 1);
  return ids;
}

}  // namespace

TEST(Embedding, GatherMatchesReferenceAllDtypes) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16})
    for (auto [T, V, H] : {std::tuple{1, 5, 7}, {13, 37, 33}, {9, 100, 130}}) {
      const Result r = run_case({T, V, H, dt}, random_ids(T, V));
      EXPECT_EQ(r.got, r.ref) << "T " << T << " V " << V << " H " << H << " " << dtype_name(dt);
    }
}

TEST(Embedding, OutOfRangeIdsAreClamped) {
  const Result r = run_case({4, 37, 33, DType::BF16}, {-3, 36, 37, 1000000});
  EXPECT_EQ(r.got, r.ref);
  // Row 0 for the negative id, row V-1 for the ones past the end.
  EXPECT_TRUE(std::equal(r.got.begin() + 33, r.got.begin() + 66, r.got.begin() + 66));
}

TEST(Embedding, SplitTableIntoChunks) {
  // 18-byte bf16 rows starting at an odd element offset, at most 200 bytes per binding.
  const Case c{23, 50, 9, DType::BF16, 200, 2};
  std::vector<int32_t> ids = random_ids(c.T, c.V);
  ids[0] = 0;
  ids[1] = -1;
  ids[2] = 99;
  const Result r = run_case(c, ids);
  EXPECT_GE(r.dispatches, 3u);
  EXPECT_EQ(r.got, r.ref);
  const Result f = run_case({17, 61, 11, DType::F32, 300, 0}, random_ids(17, 61));
  EXPECT_GE(f.dispatches, 3u);
  EXPECT_EQ(f.got, f.ref);
}

TEST(Embedding, CheckTokenIdsNamesTheBadId) {
  const std::vector<int32_t> ok = {0, 5, 99};
  EXPECT_NO_THROW(ops::check_token_ids(ok, 100));
  const std::vector<int32_t> bad = {0, 5, 100, 3};
  try {
    ops::check_token_ids(bad, 100);
    FAIL() << "expected std::out_of_range";
  } catch (const std::out_of_range& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("token id 100"), std::string::npos) << msg;
    EXPECT_NE(msg.find("position 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("vocabulary of 100"), std::string::npos) << msg;
  }
  const std::vector<int32_t> neg = {-7};
  EXPECT_THROW(ops::check_token_ids(neg, 100), std::out_of_range);
}

TEST(Embedding, BadShapesThrow) {
  Context& ctx = test::context();
  Buffer b = ctx.create_buffer(4096);
  Graph g(ctx);
  const auto ids = ops::external(g, b, DType::I32, {4});
  const auto table = ops::external(g, b, DType::BF16, {10, 8});
  EXPECT_THROW(ops::embedding(g, ids, table, ops::external(g, b, DType::F32, {4, 9})), std::invalid_argument);
  EXPECT_THROW(ops::embedding(g, ops::external(g, b, DType::F32, {4}), table, ops::external(g, b, DType::F32, {4, 8})),
               std::invalid_argument);
  EXPECT_EQ(g.size(), 0u);
}
