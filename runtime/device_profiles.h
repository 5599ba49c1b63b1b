#pragma once
// Device profiles: the limits and features of a real GPU class, clamped onto the capability
// report of the device smolvk runs on (SMOLVK_DEVICE_PROFILE=<name>). On lavapipe this makes
// the kernel choices of a phone or another vendor's GPU run, so that they are tested without
// that GPU. Limits only go down and features only go off; the subgroup size is the one the
// kernels are planned for (they are correct at any size the device really runs: combine with
// LP_NATIVE_VECTOR_WIDTH on lavapipe to run the real one too).
#include <cstdint>
#include <span>
#include <string>

#include "runtime/capabilities.h"

namespace smolvk {

struct DeviceProfile {
  const char* name;    // the SMOLVK_DEVICE_PROFILE value
  const char* gpu;     // what it stands for
  const char* source;  // where the figures come from
  uint32_t subgroup_size;
  uint32_t max_shared_memory;
  uint32_t max_workgroup_invocations;
  uint32_t max_workgroup_size_x;
  uint64_t max_storage_buffer_range;
  bool subgroup_arithmetic, subgroup_shuffle;
  bool fp16_arithmetic, storage_16bit, int8_arithmetic;
  bool float_atomic_add;
  bool cooperative_matrix_nv;  // VK_NV_cooperative_matrix (what smolvk's tensor-core kernels use)
};

std::span<const DeviceProfile> device_profiles();
// The profile called `name`; GpuError listing the known names when there is none.
const DeviceProfile& find_device_profile(const std::string& name);
// Clamps `c` (the device's own report, before the fast paths are chosen) to `p`.
void apply_device_profile(Capabilities& c, const DeviceProfile& p);

}  // namespace smolvk
