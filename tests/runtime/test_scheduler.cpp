#include <gtest/gtest.h>

#include <cstring>

#include <vector>

#include "runtime/graph.h"
#include "tests/test_util.h"

using namespace smolvk;

namespace {
struct FillPush {
  uint32_t n;
  float a, b;
  uint32_t use_params;
};

// out = in * a + b (+ params[0] when use_params)
void fill(Graph& g, TensorRef in, TensorRef out, uint32_t n, float a, float b, bool use_params = false) {
  Dispatch d{.name = "fill", .op = "test", .shader = "test_fill", .spec = {32}};
  d.bindings = {{in, Access::Read}, {out, Access::Write}};
  if (use_params) d.bindings.push_back({g.params(), Access::Read});
  d.set_push(FillPush{n, a, b, use_params ? 1u : 0u});
  d.groups = {(n + 31) / 32, 1, 1};
  d.flops = 2.0 * n;
  d.bytes = 8.0 * n;
  g.add(d);
}
}  // namespace

TEST(Scheduler, DependentChainGetsBarriersAndRightResult) {
  Context& ctx = test::context();
  const uint32_t n = 1001;
  std::vector<float> x(n);
  for (uint32_t i = 0; i < n; ++i) x[i] = float(i);
  Buffer in = ctx.create_buffer(n * 4), out = ctx.create_buffer(n * 4);
  ctx.upload(in, x.data(), n * 4);
  Graph g(ctx);
  TensorRef t0 = g.external(in), t1 = g.transient(n * 4, "t1"), t2 = g.transient(n * 4, "t2"),
            t3 = g.transient(n * 4, "t3"), o = g.external(out);
  fill(g, t0, t1, n, 2, 1);   // 2x+1
  fill(g, t1, t2, n, 3, 0);   // 6x+3
  fill(g, t2, t3, n, 1, -3);  // 6x
  fill(g, t3, o, n, 0.5, 0);  // 3x
  Program p = g.compile();
  EXPECT_FALSE(p.barrier_before(0));
  for (size_t i = 1; i < 4; ++i) EXPECT_TRUE(p.barrier_before(i)) << i;
  // t1 and t3 never live at the same time: the arena is smaller than the sum.
  EXPECT_LT(p.arena_bytes(), p.transient_bytes_sum());
  p.run();
  std::vector<float> y(n);
  ctx.download(out, y.data(), n * 4);
  for (uint32_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(y[i], 3.0f * float(i)) << i;
}

TEST(Scheduler, IndependentDispatchesGetNoBarrier) {
  Context& ctx = test::context();
  const uint32_t n = 77;
  std::vector<float> x(n, 1.0f);
  Buffer in = ctx.create_buffer(n * 4);
  ctx.upload(in, x.data(), n * 4);
  std::vector<Buffer> outs;
  Graph g(ctx);
  TensorRef t0 = g.external(in);
  for (int i = 0; i < 4; ++i) {
    outs.push_back(ctx.create_buffer(n * 4));
    fill(g, t0, g.external(outs.back()), n, float(i), 0);
  }
  // A write-after-read hazard: overwriting the input that the four read needs one barrier.
  fill(g, g.external(outs[0]), t0, n, 1, 5);
  Program p = g.compile();
  EXPECT_EQ(p.barrier_count(), 1u);
  EXPECT_TRUE(p.barrier_before(4));
  p.run();
  for (int i = 0; i < 4; ++i) {
    std::vector<float> y(n);
    ctx.download(outs[i], y.data(), n * 4);
    EXPECT_FLOAT_EQ(y[n - 1], float(i));
  }
  std::vector<float> y(n);
  ctx.download(in, y.data(), n * 4);
  EXPECT_FLOAT_EQ(y[3], 5.0f);
}

TEST(Scheduler, ReplayWithChangingParams) {
  Context& ctx = test::context();
  const uint32_t n = 100;
  std::vector<float> x(n, 0.5f);
  Buffer in = ctx.create_buffer(n * 4), out = ctx.create_buffer(n * 4);
  ctx.upload(in, x.data(), n * 4);
  Graph g(ctx);
  TensorRef mid = g.transient(n * 4);
  fill(g, g.external(in), mid, n, 2, 0, true);   // 1 + p
  fill(g, mid, g.external(out), n, 1, 0, true);  // 1 + 2p
  Program p = g.compile();
  for (uint32_t step = 0; step < 5; ++step) {
    p.set_param(0, step * 10);
    p.run();
    std::vector<float> y(n);
    ctx.download(out, y.data(), n * 4);
    EXPECT_FLOAT_EQ(y[0], 1.0f + 2.0f * float(step * 10)) << "replay " << step;
    EXPECT_FLOAT_EQ(y[n - 1], 1.0f + 2.0f * float(step * 10));
  }
}

// Graph::read_back: the last dispatch's output comes back with every replay, no download.
TEST(Scheduler, ReadBackFollowsEveryReplay) {
  Context& ctx = test::context();
  const uint32_t n = 10;
  std::vector<float> x(n, 0.5f);
  Buffer in = ctx.create_buffer(n * 4), out = ctx.create_buffer(n * 4);
  ctx.upload(in, x.data(), n * 4);
  Graph g(ctx);
  const TensorRef dst = g.external(out);
  fill(g, g.external(in), dst, n, 2, 0, true);  // 1 + p
  g.read_back(dst.slice(4, 8));                 // elements 1 and 2
  EXPECT_THROW(g.read_back(g.transient(16)), GpuError);
  Program p = g.compile();
  for (uint32_t step = 0; step < 3; ++step) {
    p.set_param(0, step + 1);
    p.run();
    const auto bytes = p.read_back();
    ASSERT_EQ(bytes.size(), 8u);
    float y[2];
    std::memcpy(y, bytes.data(), 8);
    EXPECT_FLOAT_EQ(y[0], 2.0f + float(step)) << "replay " << step;
    EXPECT_FLOAT_EQ(y[1], 2.0f + float(step));
  }
}

TEST(Scheduler, ArenaReusesMemoryByLiveness) {
  Context& ctx = test::context();
  const uint32_t n = 4096;
  Buffer in = ctx.create_buffer(n * 4), out = ctx.create_buffer(n * 4);
  std::vector<float> x(n, 1.0f);
  ctx.upload(in, x.data(), n * 4);
  Graph g(ctx);
  TensorRef prev = g.external(in);
  for (int i = 0; i < 10; ++i) {  // a chain of 10 transients: only two live at once
    TensorRef t = g.transient(n * 4);
    fill(g, prev, t, n, 1, 1);
    prev = t;
  }
  fill(g, prev, g.external(out), n, 1, 0);
  Program p = g.compile();
  EXPECT_EQ(p.transient_bytes_sum(), 10ull * n * 4);
  EXPECT_EQ(p.arena_bytes(), 2ull * n * 4);
  p.run();
  std::vector<float> y(n);
  ctx.download(out, y.data(), n * 4);
  EXPECT_FLOAT_EQ(y[123], 11.0f);
}

TEST(Scheduler, TimestampsPerDispatch) {
  Context& ctx = test::context();
  if (!ctx.caps().timestamps) GTEST_SKIP() << "device has no compute timestamps";
  const uint32_t n = 1 << 16;
  Buffer in = ctx.create_buffer(n * 4), out = ctx.create_buffer(n * 4);
  ctx.fill_zero(in);
  Graph g(ctx);
  g.enable_timestamps();
  TensorRef t = g.transient(n * 4);
  fill(g, g.external(in), t, n, 1, 1);
  fill(g, t, g.external(out), n, 1, 1);
  Program p = g.compile();
  p.run();
  auto tim = p.timings();
  ASSERT_EQ(tim.size(), 2u);
  for (const auto& d : tim) {
    EXPECT_EQ(d.name, "fill");
    EXPECT_EQ(d.shader, "test_fill");
    EXPECT_EQ(d.groups[0], n / 32);
    EXPECT_GT(d.ns, 0.0);
    EXPECT_LT(d.ns, 10e9);
    EXPECT_DOUBLE_EQ(d.flops, 2.0 * n);
  }
}

TEST(Scheduler, ErrorsAreExceptionsNotAborts) {
  Context& ctx = test::context();
  Graph g(ctx);
  Buffer b = ctx.create_buffer(64);
  Dispatch d{.name = "missing", .op = "test", .shader = "no_such_shader"};
  d.bindings = {{g.external(b), Access::ReadWrite}};
  g.add(d);
  try {
    g.compile();
    FAIL() << "expected an error";
  } catch (const GpuError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_shader"), std::string::npos);
  }
  Dispatch empty{.name = "empty_grid", .op = "test", .shader = "test_fill"};
  empty.groups = {0, 1, 1};
  Graph g2(ctx);
  EXPECT_THROW(g2.add(empty), GpuError);
}

// A program's missing pipelines compile side by side (Context::Impl::prepare_pipelines): each
// distinct (shader, constants) once, whatever the threads, and the chain's result is right; a
// second program finds them all made. Missing shaders among several fail the compile with an
// exception naming one of them, not an abort in a worker thread.
TEST(Scheduler, ProgramPipelinesCompileOnceEachOnSeveralThreads) {
  ContextOptions o = ContextOptions::from_env();
  o.validation = true;
  o.cache_dir = "none";
  Context ctx(o);
  const uint32_t n = 777;
  std::vector<float> x(n);
  for (uint32_t i = 0; i < n; ++i) x[i] = float(i % 13);
  Buffer in = ctx.create_buffer(n * 4), out = ctx.create_buffer(n * 4);
  ctx.upload(in, x.data(), n * 4);
  const uint32_t sizes[] = {16, 32, 48, 64, 96, 128};
  auto build = [&](Graph& g) {
    TensorRef prev = g.external(in);
    for (int i = 0; i < 12; ++i) {  // each size twice: y = x + 1, twelve times
      TensorRef next = i == 11 ? g.external(out) : g.transient(n * 4, "t" + std::to_string(i));
      const uint32_t wg = sizes[i % 6];
      Dispatch d{.name = "fill", .op = "test", .shader = "test_fill", .spec = {wg}};
      d.bindings = {{prev, Access::Read}, {next, Access::Write}};
      d.set_push(FillPush{n, 1.0f, 1.0f, 0u});
      d.groups = {(n + wg - 1) / wg, 1, 1};
      g.add(d);
      prev = next;
    }
  };
  {
    Graph g(ctx);
    build(g);
    Program p = g.compile();
    EXPECT_EQ(ctx.pipeline_cache_stats().pipelines_created, 6u);
    p.run();
  }
  std::vector<float> y(n);
  ctx.download(out, y.data(), n * 4);
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(y[i], x[i] + 12.0f) << "element " << i;
  {
    Graph g(ctx);
    build(g);
    g.compile();
    EXPECT_EQ(ctx.pipeline_cache_stats().pipelines_created, 6u);
  }
  Graph bad(ctx);
  Buffer b = ctx.create_buffer(64);
  for (const char* name : {"no_such_shader_a", "no_such_shader_b", "test_fill"}) {
    Dispatch d{.name = "x", .op = "test", .shader = name, .spec = {8}};
    d.bindings = {{bad.external(b), Access::ReadWrite}};
    bad.add(d);
  }
  try {
    bad.compile();
    FAIL() << "expected an error";
  } catch (const GpuError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_shader_"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(ctx.take_validation_messages().empty());
}
