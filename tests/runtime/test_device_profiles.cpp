#include <gtest/gtest.h>

#include <bit>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/context.h"
#include "runtime/device_profiles.h"
#include "tests/test_util.h"

using namespace smolvk;

namespace {

// A device larger than every profile in every limit, with every feature.
Capabilities big_device() {
  Capabilities c;
  c.subgroup_size = 32;
  c.subgroup_arithmetic = c.subgroup_shuffle = true;
  c.max_shared_memory = 1 << 20;
  c.max_workgroup_invocations = 4096;
  c.max_workgroup_size = {4096, 4096, 64};
  c.max_storage_buffer_range = uint64_t(1) << 40;
  c.fp16_arithmetic = c.storage_16bit = c.int8_arithmetic = c.float_atomic_add = true;
  c.cooperative_matrix_nv = c.coopmat_16x16x16_f16_f32 = true;
  return c;
}

}  // namespace

TEST(DeviceProfiles, EveryProfileIsComplete) {
  ASSERT_GE(device_profiles().size(), 5u);
  for (const DeviceProfile& p : device_profiles()) {
    SCOPED_TRACE(p.name);
    EXPECT_GT(std::string(p.gpu).size(), 5u);
    EXPECT_GT(std::string(p.source).size(), 20u);  // where the figures come from
    EXPECT_TRUE(std::has_single_bit(p.subgroup_size));
    EXPECT_GE(p.subgroup_size, 4u);
    EXPECT_LE(p.subgroup_size, 128u);
    EXPECT_GE(p.max_shared_memory, 16384u);  // Vulkan's required minimum
    EXPECT_GE(p.max_workgroup_invocations, 128u);
    EXPECT_GE(p.max_storage_buffer_range, uint64_t(1) << 27);
    EXPECT_EQ(&find_device_profile(p.name), &p);
  }
}

TEST(DeviceProfiles, ClampLimitsDownAndFeaturesOff) {
  const DeviceProfile& mali = find_device_profile("mali-g78");
  Capabilities c = big_device();
  apply_device_profile(c, mali);
  EXPECT_EQ(c.profile, "mali-g78");
  EXPECT_EQ(c.subgroup_size, 16u);
  EXPECT_EQ(c.max_shared_memory, 32768u);
  EXPECT_EQ(c.max_workgroup_invocations, 512u);
  EXPECT_EQ(c.max_workgroup_size[0], 512u);
  EXPECT_EQ(c.max_storage_buffer_range, uint64_t(1) << 27);
  EXPECT_FALSE(c.float_atomic_add);
  EXPECT_FALSE(c.cooperative_matrix_nv);
  EXPECT_FALSE(c.coopmat_16x16x16_f16_f32);
  EXPECT_TRUE(c.fp16_arithmetic);

  // Never up: a device smaller than the profile keeps its own limits and lacks what it lacks.
  Capabilities small;
  small.subgroup_size = 8;
  small.max_shared_memory = 16384;
  small.max_workgroup_invocations = 256;
  small.max_workgroup_size = {256, 256, 64};
  small.max_storage_buffer_range = 1 << 20;
  apply_device_profile(small, find_device_profile("rdna3-radv"));
  EXPECT_EQ(small.max_shared_memory, 16384u);
  EXPECT_EQ(small.max_workgroup_invocations, 256u);
  EXPECT_EQ(small.max_storage_buffer_range, uint64_t(1) << 20);
  EXPECT_FALSE(small.fp16_arithmetic);
  EXPECT_FALSE(small.float_atomic_add);
  EXPECT_EQ(small.subgroup_size, 64u);  // the size the kernels are planned for
}

TEST(DeviceProfiles, UnknownNameListsTheKnownOnes) {
  try {
    find_device_profile("voodoo2");
    FAIL() << "no error";
  } catch (const GpuError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("voodoo2"), std::string::npos) << m;
    for (const DeviceProfile& p : device_profiles()) EXPECT_NE(m.find(p.name), std::string::npos) << m;
  }
}

// A context made with a profile reports it, and its fast paths follow the clamped features.
TEST(DeviceProfiles, ContextRunsUnderTheProfile) {
  ContextOptions o = ContextOptions::from_env();
  o.validation = true;
  o.profile = "mali-g78";
  Context ctx(o);
  const Capabilities& c = ctx.caps();
  EXPECT_EQ(c.profile, "mali-g78");
  EXPECT_EQ(c.subgroup_size, 16u);
  EXPECT_LE(c.max_shared_memory, 32768u);
  EXPECT_LE(c.max_workgroup_invocations, 512u);
  EXPECT_FALSE(c.use_float_atomics);
  EXPECT_FALSE(c.use_coopmat);
  EXPECT_EQ(c.to_json()["profile"], "mali-g78");
  const uint32_t spec[] = {64};
  ctx.prepare_pipeline("test_fill", spec);
  EXPECT_TRUE(ctx.take_validation_messages().empty());
}
