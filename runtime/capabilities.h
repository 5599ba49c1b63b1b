#pragma once
// What the chosen device can do, and which fast paths smolvk will use on it.
// Every vendor quirk and every "use fast path X" decision lives here, nowhere else.
#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <map>
#include <string>
#include <vector>

namespace smolvk {

struct Capabilities {
  // identity
  uint32_t index = 0;  // position in the instance's physical-device list
  std::string name;
  std::string device_type;  // "discrete", "integrated", "virtual", "cpu", "other"
  uint32_t vendor_id = 0, device_id = 0;
  std::string vendor;  // "NVIDIA", "AMD", "Intel", "Mesa (llvmpipe)", ...
  std::string api_version;
  std::string driver_name, driver_info;
  uint32_t driver_version = 0;
  std::array<uint8_t, 16> pipeline_cache_uuid{};
  std::array<uint8_t, 16> driver_uuid{};

  // The device profile clamped onto this report (SMOLVK_DEVICE_PROFILE, runtime/device_profiles.h),
  // or empty.
  std::string profile;

  // compute limits
  uint32_t subgroup_size = 1;
  bool subgroup_basic = false, subgroup_arithmetic = false, subgroup_shuffle = false;
  bool subgroup_size_control = false;
  uint32_t min_subgroup_size = 0, max_subgroup_size = 0;
  // VK_EXT_subgroup_size_control's computeFullSubgroups: a compute pipeline may require that
  // every subgroup of a workgroup whose size is a multiple of subgroup_size runs with all its
  // invocations active. Without it a driver may run subgroups partly empty (lavapipe at 32 and
  // 64 lanes runs 16 of them), so the kernels never rely on a full subgroup.
  bool full_subgroups = false;
  uint64_t max_storage_buffer_range = 0;
  uint64_t min_storage_buffer_offset_alignment = 1;
  uint64_t max_memory_allocation_size = 0;
  uint64_t max_buffer_size = 0;
  uint64_t device_local_bytes = 0;
  uint32_t max_shared_memory = 0;
  uint32_t max_push_constants = 0;
  uint32_t max_workgroup_invocations = 0;
  std::array<uint32_t, 3> max_workgroup_size{};
  std::array<uint32_t, 3> max_workgroup_count{};

  // arithmetic / storage features the device reports
  bool fp16_arithmetic = false;
  bool int8_arithmetic = false;
  bool int16 = false, int64 = false;
  bool storage_16bit = false;
  bool storage_8bit = false;
  bool integer_dot_product = false;
  bool cooperative_matrix_nv = false;
  // VK_NV_cooperative_matrix offers 16x16x16 fp16 x fp16 -> fp32 at subgroup scope (the
  // shape matmul_coopmat.comp uses), and the Vulkan memory model its SPIR-V declares.
  bool coopmat_16x16x16_f16_f32 = false;
  bool vulkan_memory_model = false;
  bool vulkan_memory_model_device_scope = false;
  bool float_atomic_add = false;  // VK_EXT_shader_atomic_float: atomicAdd on f32 in storage buffers
  // VK_NV_cooperative_matrix2 (with VK_KHR_cooperative_matrix): `listed` by the device; the
  // rest is queried only under SMOLVK_COOPMAT2=1 (see use_coopmat2): workgroup-scope matrices of
  // flexible size, tensor addressing and per-element operations, all four of which
  // matmul_coopmat2.comp needs; the largest workgroup and dimension it takes, the shared memory
  // the driver reserves for it, and the flexible f16 x f16 -> f32 shapes offered
  // ("MxNxK granularity @ scope/invocations").
  bool cooperative_matrix2_listed = false;
  bool cooperative_matrix2_nv = false;
  uint32_t coopmat2_max_workgroup = 0, coopmat2_max_dimension = 0, coopmat2_reserved_shared = 0;
  std::vector<std::string> coopmat2_shapes;

  // timestamps
  bool timestamps = false;
  double timestamp_period_ns = 0.0;
  uint32_t timestamp_valid_bits = 0;

  // Fast paths actually used: the feature is present and not switched off.
  // SMOLVK_PORTABLE=1 turns all of them off; SMOLVK_NO_FP16, SMOLVK_NO_SUBGROUP,
  // SMOLVK_NO_STORAGE16, SMOLVK_NO_COOPMAT, SMOLVK_NO_FLOAT_ATOMICS turn off one each.
  bool use_fp16 = false;
  bool use_subgroup = false;
  bool use_storage16 = false;
  bool use_coopmat = false;
  bool use_float_atomics = false;  // fused decode kernels that accumulate with atomicAdd
  // matmul_coopmat2.comp for the large f16 GEMMs, an opt-in (SMOLVK_COOPMAT2=1): use_coopmat,
  // cooperative_matrix2_nv, a Vulkan 1.3 device, and the shader built in (it needs glslang 15;
  // CMake's SMOLVK_GLSLANG_NV2, tools/build_glslang.sh). Off by default: on the H200 (driver 580)
  // it ran the vision GEMMs at 40-135 TFLOP/s against matmul_coopmat.comp's 149-156.
  bool use_coopmat2 = false;
  // Where use_coopmat: a 16x16 fp32 cooperative matrix is held as NVIDIA's mma.m16n8k16
  // accumulator pairs (lane l, element e at row l/4 + 8·(e/4), column 2·(l % 4) + e % 2 +
  // 8·(e/2 % 2); the H200's driver 580 lays them out so) in subgroups of 32 — probed by running
  // shaders/coopmat_layout.comp when the context is created. Kernels that index fragment elements need it.
  bool coopmat_mma_layout = false;
  // The kernel-selection overrides in effect (ContextOptions::tuning), for the kernel policy.
  std::map<std::string, uint32_t> tuning;

  nlohmann::json to_json() const;
};

}  // namespace smolvk
