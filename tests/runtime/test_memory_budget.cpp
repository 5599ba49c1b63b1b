// Out of device memory, on purpose: a lowered budget (ContextOptions::memory_budget_bytes /
// $SMOLVK_MEMORY_BUDGET) and a real over-allocation give a GpuError with out_of_memory() true
// that names the size, and the context keeps working.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/test_util.h"

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
