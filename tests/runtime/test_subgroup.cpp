// What a compute shader sees of its subgroups (shaders/test_subgroup.comp), for workgroup sizes
// that are, and are not, multiples of the subgroup size. The kernels rely on exactly the
// properties asserted here, and on nothing else: in particular not on a subgroup having
// gl_SubgroupSize active invocations.
//
// Two lavapipe defects (Mesa 22.3, LLVM 15) are reproduced by the last two tests:
// - at LP_NATIVE_VECTOR_WIDTH=1024/2048 it reports subgroupSize 32/64 (and gl_SubgroupSize),
//   but runs every subgroup with at most 16 active invocations, even when the pipeline
//   requires full subgroups (computeFullSubgroups is advertised);
// - gl_NumSubgroups is the workgroup size divided by that width rounded down, so a partial
//   last subgroup is not counted (workgroup 100 at width 8: 12, where ids 0..12 exist).
// SMOLVK_TEST_LAVAPIPE_DEFECTS=1 LP_NATIVE_VECTOR_WIDTH=1024 test_runtime --gtest_filter='Subgroup.*'
// shows both.
#include <gtest/gtest.h>

#include <cstdio>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "runtime/graph.h"
#include "tests/test_util.h"

using namespace smolvk;

namespace {

struct Seen {
  uint32_t size, lane, id, num, add, add_after_loop, xor1, add_in_loop;
};

std::vector<Seen> probe(uint32_t wg, uint32_t trips) {
  Context& ctx = test::context();
  Buffer out = ctx.create_buffer(uint64_t(wg) * sizeof(Seen));
  Graph g(ctx);
  Dispatch d{.name = "subgroup_probe", .op = "test", .shader = "test_subgroup", .spec = {wg}};
  d.bindings = {{g.external(out), Access::Write}};
  d.set_push(trips);
  d.groups = {1, 1, 1};
  g.add(d);
  Program p = g.compile();
  p.run();
  std::vector<Seen> y(wg);
  ctx.download(out, y.data(), y.size() * sizeof(Seen));
  return y;
}

bool subgroup_ops(const Capabilities& c) { return c.subgroup_arithmetic && c.subgroup_shuffle; }
// The two defect reproducers skip on lavapipe unless SMOLVK_TEST_LAVAPIPE_DEFECTS=1.
bool lavapipe(const Capabilities& c) {
  const char* e = std::getenv("SMOLVK_TEST_LAVAPIPE_DEFECTS");
  return c.name.find("llvmpipe") != std::string::npos && !(e && *e == '1');
}

const uint32_t kSizes[] = {1, 3, 4, 16, 24, 64, 100, 128, 256};

}  // namespace

TEST(Subgroup, IdsReductionsAndShufflesAreConsistent) {
  const Capabilities& caps = test::context().caps();
  if (!subgroup_ops(caps)) GTEST_SKIP() << "no subgroup arithmetic / shuffle on " << caps.name;
  for (uint32_t wg : kSizes) {
    if (wg > caps.max_workgroup_invocations) continue;
    SCOPED_TRACE("workgroup " + std::to_string(wg) + ", subgroup size " + std::to_string(caps.subgroup_size));
    const uint32_t trips = 3;
    const auto y = probe(wg, trips);
    std::map<uint32_t, std::vector<uint32_t>> members;  // gl_SubgroupID -> invocations
    for (uint32_t t = 0; t < wg; ++t) members[y[t].id].push_back(t);
    for (const auto& [id, inv] : members) {
      std::set<uint32_t> lanes;
      uint32_t lane_sum = 0;
      for (uint32_t t : inv) {
        lanes.insert(y[t].lane);
        lane_sum += y[t].lane;
      }
      ASSERT_EQ(lanes.size(), inv.size()) << "subgroup " << id << ": two invocations share a gl_SubgroupInvocationID";
      for (uint32_t t : inv) {
        const Seen& s = y[t];
        ASSERT_EQ(s.size, caps.subgroup_size) << "gl_SubgroupSize, invocation " << t;
        ASSERT_LT(s.lane, s.size) << "invocation " << t;
        ASSERT_EQ(s.add, inv.size()) << "subgroupAdd(1) must count the invocations of gl_SubgroupID " << id;
        ASSERT_EQ(s.add_after_loop, inv.size())
            << "subgroupAdd(1) after a loop of lane-dependent length, invocation " << t;
        ASSERT_EQ(s.add_in_loop, trips * lane_sum) << "subgroupAdd(lane) in a uniform loop, invocation " << t;
        if (lanes.count(s.lane ^ 1u)) {
          ASSERT_EQ(s.xor1, s.lane ^ 1u) << "subgroupShuffleXor(lane, 1), invocation " << t;
        }
      }
    }
    // The kernels loop over gl_NumSubgroups only with power-of-two workgroups of 32 or more.
    if (wg >= 32 && (wg & (wg - 1)) == 0) {
      for (uint32_t t = 0; t < wg; ++t) ASSERT_EQ(y[t].num, members.size()) << "gl_NumSubgroups, invocation " << t;
    }
  }
}

TEST(Subgroup, NumSubgroupsCountsPartialSubgroups) {
  const Capabilities& caps = test::context().caps();
  if (!subgroup_ops(caps)) GTEST_SKIP() << "no subgroup arithmetic / shuffle on " << caps.name;
  if (lavapipe(caps)) GTEST_SKIP() << "lavapipe defect: gl_NumSubgroups leaves out a partial last subgroup";
  for (uint32_t wg : kSizes) {
    if (wg > caps.max_workgroup_invocations) continue;
    const auto y = probe(wg, 1);
    std::set<uint32_t> ids;
    for (const Seen& s : y) ids.insert(s.id);
    for (uint32_t t = 0; t < wg; ++t) ASSERT_EQ(y[t].num, ids.size()) << "workgroup " << wg << ", invocation " << t;
  }
}

// pipelines.cpp asks for full subgroups where the workgroup is a whole number of the largest.
TEST(Subgroup, FullSubgroupsWhenRequired) {
  const Capabilities& caps = test::context().caps();
  if (!subgroup_ops(caps) || !caps.full_subgroups) GTEST_SKIP() << "no computeFullSubgroups on " << caps.name;
  if (lavapipe(caps) && caps.subgroup_size > 16)
    GTEST_SKIP() << "lavapipe defect: reports " << caps.subgroup_size << "-lane subgroups but runs 16 lanes";
  const uint32_t sg_max = std::max(caps.subgroup_size, caps.max_subgroup_size);
  for (uint32_t wg : {sg_max, 2 * sg_max, 4 * sg_max}) {
    if (wg > caps.max_workgroup_invocations) continue;
    const auto y = probe(wg, 1);
    for (uint32_t t = 0; t < wg; ++t)
      ASSERT_EQ(y[t].add, caps.subgroup_size) << "workgroup " << wg << ", invocation " << t;
  }
}

// The fragment-layout probe (shaders/coopmat_layout.comp) runs only where the tensor-core
// kernels do, and its answer is what attention_flash.comp relies on.
TEST(CoopmatLayout, ProbedOnlyWhereTensorCoresRun) {
  const Capabilities& caps = test::context().caps();
  if (!caps.use_coopmat || caps.subgroup_size != 32) {
    EXPECT_FALSE(caps.coopmat_mma_layout);
    GTEST_SKIP() << "no tensor-core path with subgroups of 32 on " << caps.name;
  }
  testing::Test::RecordProperty("coopmat_mma_layout", caps.coopmat_mma_layout ? "yes" : "no");
  std::printf("      %s: 16x16 fp32 fragments %s NVIDIA's mma.m16n8k16 layout\n", caps.name.c_str(),
              caps.coopmat_mma_layout ? "have" : "do not have");
}
