#include "runtime/device_profiles.h"

#include <algorithm>

#include "runtime/context.h"

namespace smolvk {
namespace {

// Figures from real devices' reports. "Vulkan-Profiles" files are gpuinfo.org exports kept in
// github.com/KhronosGroup/Vulkan-Profiles; Mesa paths are in gitlab.freedesktop.org/mesa/mesa.
// NV cooperative matrices: none of these offers them (Intel Arc and RDNA3 offer the KHR
// extension, which smolvk's tensor-core kernels do not use yet).
constexpr DeviceProfile kProfiles[] = {
    {"mali-g78", "Arm Mali-G78 (Valhall), Android driver",
     "Mesa panvk (src/panfrost/vulkan/panvk_vX_physical_device.c): 32 KiB shared memory, fixed "
     "subgroups of 16 with arithmetic and shuffle. Estimated, not found in a readable public "
     "report: 512 invocations per workgroup, 128 MiB storage range, fp16/int8/16-bit storage, "
     "no float atomics",
     16, 32768, 512, 512, 134217728, true, true, true, true, true, false, false},
    {"adreno-7xx", "Qualcomm Adreno 730/740/750",
     "Mesa turnip (src/freedreno/vulkan/tu_device.cc, tu_common.h, common/freedreno_devices.py: "
     "32 KiB shared memory, 128 MiB storage range 'to match the latest Qualcomm driver', "
     "subgroups 64 or 128, fp16/int8/16-bit storage, no float atomics); workgroup 1024 invocations",
     64, 32768, 1024, 1024, 134217728, true, true, true, true, true, false, false},
    {"arc-a770", "Intel Arc A770 (DG2), Linux ANV",
     "Vulkan-Profiles profiles/LunarG/VP_LUNARG_desktop_baseline_2026/"
     "vp_gpuinfo_intel_r__arc_tm__a770_graphics__dg2__26_1_2_arch_unknown.json",
     32, 49152, 1024, 1024, 4294967295ull, true, true, true, true, true, true, false},
    {"rdna3-radv", "AMD RDNA3 (Navi 3x) on RADV, compute in wave64",
     "Vulkan-Profiles profiles/VP_LUNARG_desktop_baseline_2023/"
     "vp_gpuinfo_amd_radeon_rx_7800_xt__radv_navi32__24_0_99_arch_unknown.json; wave64 default: "
     "src/amd/vulkan/radv_physical_device.c (cs_wave_size = 64)",
     64, 65536, 1024, 1024, 4294967295ull, true, true, true, true, true, true, false},
    {"apple-m1", "Apple M1/M2 through MoltenVK",
     "Vulkan-Profiles profiles/LunarG/VP_LUNARG_desktop_baseline_2026/"
     "vp_gpuinfo_apple_m1_0_2_2209_macos_26_5_1.json (MoltenVK 1.4.1)",
     32, 32768, 1024, 1024, 4294967295ull, true, true, true, true, true, true, false},
};

}  // namespace

std::span<const DeviceProfile> device_profiles() { return kProfiles; }

const DeviceProfile& find_device_profile(const std::string& name) {
  for (const DeviceProfile& p : kProfiles)
    if (name == p.name) return p;
  std::string known;
  for (const DeviceProfile& p : kProfiles) known += std::string(known.empty() ? "" : ", ") + p.name;
  throw GpuError("SMOLVK_DEVICE_PROFILE='" + name + "' is not a device profile (known: " + known + ")");
}

void apply_device_profile(Capabilities& c, const DeviceProfile& p) {
  c.profile = p.name;
  c.subgroup_size = p.subgroup_size;
  c.max_shared_memory = std::min(c.max_shared_memory, p.max_shared_memory);
  c.max_workgroup_invocations = std::min(c.max_workgroup_invocations, p.max_workgroup_invocations);
  c.max_workgroup_size[0] = std::min(c.max_workgroup_size[0], p.max_workgroup_size_x);
  c.max_storage_buffer_range = std::min(c.max_storage_buffer_range, p.max_storage_buffer_range);
  c.subgroup_arithmetic = c.subgroup_arithmetic && p.subgroup_arithmetic;
  c.subgroup_shuffle = c.subgroup_shuffle && p.subgroup_shuffle;
  c.fp16_arithmetic = c.fp16_arithmetic && p.fp16_arithmetic;
  c.storage_16bit = c.storage_16bit && p.storage_16bit;
  c.int8_arithmetic = c.int8_arithmetic && p.int8_arithmetic;
  c.float_atomic_add = c.float_atomic_add && p.float_atomic_add;
  c.cooperative_matrix_nv = c.cooperative_matrix_nv && p.cooperative_matrix_nv;
  c.coopmat_16x16x16_f16_f32 = c.coopmat_16x16x16_f16_f32 && p.cooperative_matrix_nv;
}

}  // namespace smolvk
