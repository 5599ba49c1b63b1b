// Out of device memory, on purpose: a lowered budget (ContextOptions::memory_budget_bytes /
// $SMOLVK_MEMORY_BUDGET) and a real over-allocation give a GpuError with out_of_memory() true
// that names the size, and the context keeps working.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "runtime/graph.h"
#include "tests/test_util.h"

#if defined(__SANITIZE_ADDRESS__)
// The driver-refusal test below makes the driver's malloc fail on purpose; ASan's allocator
// would report that as a fatal error instead of returning null as the C library does.
// (ASAN_OPTIONS in the environment still overrides this default.)
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

using namespace smolvk;

namespace {
std::string error_of(const std::function<void()>& f, bool* oom = nullptr) {
  try {
    f();
  } catch (const GpuError& e) {
    if (oom) *oom = e.out_of_memory();
    return e.what();
  }
  return "(no error)";
}

// /proc/self/statm: the process's address-space size and resident set, in bytes.
struct Statm {
  uint64_t size = 0, resident = 0;
};
Statm statm() {
  std::ifstream f("/proc/self/statm");
  Statm s;
  f >> s.size >> s.resident;
  const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  return {s.size * page, s.resident * page};
}

// Lowers the soft address-space limit (RLIMIT_AS) for one scope.
struct AddressSpaceLimit {
  rlimit saved{};
  bool ok = false;
  explicit AddressSpaceLimit(uint64_t bytes) {
    if (::getrlimit(RLIMIT_AS, &saved) != 0) return;
    rlimit r = saved;
    r.rlim_cur = std::min<rlim_t>(rlim_t(bytes), saved.rlim_max);
    ok = ::setrlimit(RLIMIT_AS, &r) == 0;
  }
  ~AddressSpaceLimit() {
    if (ok) ::setrlimit(RLIMIT_AS, &saved);
  }
};

// Sets an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  ScopedEnv(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};
}  // namespace

TEST(MemoryBudget, ParsedFromTheEnvironmentWithSuffixes) {
  for (auto [text, bytes] :
       {std::pair{"123", 123ull}, {"512K", 512ull << 10}, {"64M", 64ull << 20}, {"2G", 2ull << 30}, {"0", 0ull}}) {
    ScopedEnv env("SMOLVK_MEMORY_BUDGET", text);
    EXPECT_EQ(ContextOptions::from_env().memory_budget_bytes, bytes) << text;
  }
  for (const char* bad : {"12X", "-5", "M", "1.5G", "99999999999999999999G"}) {
    ScopedEnv env("SMOLVK_MEMORY_BUDGET", bad);
    const std::string msg = error_of([] { ContextOptions::from_env(); });
    EXPECT_NE(msg.find(std::string("SMOLVK_MEMORY_BUDGET=") + bad), std::string::npos) << msg;
  }
}

TEST(MemoryBudget, FaultSwitchIsParsedAndABadOneNamesTheVariable) {
  {
    ScopedEnv env("SMOLVK_FAULT", "device_lost_after:3");
    EXPECT_EQ(ContextOptions::from_env().fault, "device_lost_after:3");
  }
  for (const char* bad : {"device_lost", "device_lost_after:0", "device_lost_after:x", "oom"}) {
    ScopedEnv env("SMOLVK_FAULT", bad);
    const std::string msg = error_of([] { ContextOptions::from_env(); });
    EXPECT_NE(msg.find(std::string("SMOLVK_FAULT=") + bad), std::string::npos) << msg;
    EXPECT_NE(msg.find("device_lost_after:N"), std::string::npos) << msg;
  }
}

// The budget counts what the context holds from the driver (MemoryStats::counted): lowered to
// that, an allocation bigger than it is refused, and the context still serves one that fits.
TEST(MemoryBudget, OverBudgetIsOutOfMemoryNamingNeedAndBudgetThenTheContextKeepsWorking) {
  Context& ctx = test::context();
  Buffer keep = ctx.create_buffer(4096);  // at least one block with room to spare
  const MemoryStats before = ctx.memory_stats();
  ctx.set_memory_budget(before.counted);
  // More than the whole budget: refused even after the kept empty blocks are given back.
  const uint64_t big = (before.counted + 4096) / 256 * 256;
  bool oom = false;
  const std::string msg = error_of([&] { ctx.create_buffer(big); }, &oom);
  EXPECT_TRUE(oom) << msg;
  EXPECT_NE(msg.find("out of device memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(big) + " bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("memory budget of " + std::to_string(before.counted) + " bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("in live buffers"), std::string::npos) << msg;
  const MemoryStats after = ctx.memory_stats();
  EXPECT_EQ(after.in_use, before.in_use);
  EXPECT_LE(after.counted, before.counted);

  {
    Buffer small = ctx.create_buffer(1000);  // fits in the block already held
    std::vector<uint8_t> v(1000, 7), back(1000, 0);
    ctx.upload(small, v.data(), v.size());
    ctx.download(small, back.data(), back.size());
    EXPECT_EQ(v, back);
  }
  ctx.set_memory_budget(0);
  EXPECT_EQ(ctx.memory_stats().in_use, before.in_use);
}

TEST(MemoryBudget, RealOverAllocationIsAnErrorNamingTheSize) {
  Context& ctx = test::context();
  const MemoryStats before = ctx.memory_stats();
  const uint64_t largest =
      std::min(ctx.caps().max_memory_allocation_size ? ctx.caps().max_memory_allocation_size : ~0ull,
               ctx.caps().max_buffer_size ? ctx.caps().max_buffer_size : ~0ull);
  const uint64_t huge = largest == ~0ull ? (1ull << 62) : largest + (1ull << 20);
  bool oom = false;
  const std::string msg = error_of([&] { ctx.create_buffer(huge); }, &oom);
  EXPECT_TRUE(oom) << msg;
  EXPECT_NE(msg.find("out of device memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(huge)), std::string::npos) << msg;
  EXPECT_EQ(ctx.memory_stats().in_use, before.in_use);
  Buffer b = ctx.create_buffer(64);
  EXPECT_TRUE(b.valid());
}

// The driver itself refuses an allocation, cheaply. lavapipe (a CPU driver) takes device
// memory with malloc: under an address-space limit (RLIMIT_AS) only 64 MiB above what the
// process maps now, its vkAllocateMemory of a block of half its heap fails at once, without
// touching any memory. (Asking for more than the heap instead is invalid usage,
// VUID-vkAllocateMemory-pAllocateInfo-01713, and lavapipe 22.3 grants it anyway: it only
// reserves address space.) The error names the bytes needed and the heap's size; the same
// context then allocates and runs a dispatch.
TEST(MemoryBudget, DriverRefusalIsOutOfMemoryNamingNeedAndHeapThenTheContextKeepsWorking) {
  Context& ctx = test::context();
  if (ctx.caps().device_type != "cpu")
    GTEST_SKIP() << ctx.caps().name << " is not a CPU driver: an address-space limit does not bound its memory";
  const Capabilities& caps = ctx.caps();
  const uint64_t heap = caps.device_local_bytes;
  uint64_t largest = heap;
  if (caps.max_memory_allocation_size) largest = std::min(largest, caps.max_memory_allocation_size);
  if (caps.max_buffer_size) largest = std::min(largest, caps.max_buffer_size);
  const uint64_t request = largest / 2 / (1 << 20) * (1 << 20);  // valid usage: within every limit
  ASSERT_GE(request, 256ull << 20) << "heap " << heap << ", largest allocation " << largest;

  const MemoryStats before = ctx.memory_stats();
  const Statm mapped = statm();
  std::string msg;
  bool oom = false;
  double ms = 0;
  {
    AddressSpaceLimit limit(mapped.size + (64ull << 20));
    ASSERT_TRUE(limit.ok) << "setrlimit(RLIMIT_AS) failed";
    const auto t0 = std::chrono::steady_clock::now();
    msg = error_of([&] { ctx.create_buffer(request); }, &oom);
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  EXPECT_TRUE(oom) << msg;
  EXPECT_NE(msg.find("out of device memory: a device buffer of " + std::to_string(request) + " bytes needs " +
                     std::to_string(request) + " bytes"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("vkAllocateMemory reported VK_ERROR_OUT_OF_"), std::string::npos) << msg;  // the driver's word
  EXPECT_NE(msg.find("the device has " + std::to_string(heap) + " bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("in memory heap"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no memory budget set"), std::string::npos) << msg;
  EXPECT_LT(ms, 2000.0) << "the refusal should be immediate";
  EXPECT_LT(statm().resident, mapped.resident + (32ull << 20)) << "the refused allocation touched memory";
  const MemoryStats after = ctx.memory_stats();
  EXPECT_EQ(after.in_use, before.in_use);
  EXPECT_LE(after.counted, before.counted);  // nothing of the failed call is held

  // The same context: a small allocation and a dispatch (out = in * 2 + 1).
  const uint32_t n = 333;
  std::vector<float> x(n), y(n, 0.0f);
  for (uint32_t i = 0; i < n; ++i) x[i] = float(i);
  Buffer in = ctx.create_buffer(n * 4), out = ctx.create_buffer(n * 4);
  ctx.upload(in, x.data(), n * 4);
  Graph g(ctx);
  Dispatch d{.name = "fill", .op = "test", .shader = "test_fill", .spec = {32}};
  d.bindings = {{g.external(in), Access::Read}, {g.external(out), Access::Write}};
  struct {
    uint32_t n;
    float a, b;
    uint32_t use_params;
  } push{n, 2.0f, 1.0f, 0};
  d.set_push(push);
  d.groups = {(n + 31) / 32, 1, 1};
  g.add(d);
  Program p = g.compile();
  p.run();
  ctx.download(out, y.data(), n * 4);
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(y[i], 2.0f * float(i) + 1.0f) << i;
  EXPECT_FALSE(ctx.device_lost());
}
