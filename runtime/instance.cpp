// Instance creation, capability probing and device choice.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <unistd.h>

#include "runtime/context_impl.h"
#include "runtime/device_profiles.h"
#include "runtime/shader_registry.h"
#include "runtime/vk_coopmat2.h"

namespace smolvk {
namespace {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

bool has_extension(const std::vector<VkExtensionProperties>& list, const char* name) {
  for (const auto& e : list)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

// Every SMOLVK_TUNE_<NAME>=<decimal> of the environment; anything else there is an error
// that names the variable (a typo'd experiment should not run the defaults silently).
std::map<std::string, uint32_t> tuning_from_env() {
  static const std::string prefix = "SMOLVK_TUNE_";
  std::map<std::string, uint32_t> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    if (kv.compare(0, prefix.size(), prefix) != 0 || eq == std::string::npos) continue;
    const std::string name = kv.substr(prefix.size(), eq - prefix.size()), value = kv.substr(eq + 1);
    if (value.empty()) continue;
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(value.c_str(), &end, 10);
    if (!std::isdigit(static_cast<unsigned char>(value[0])) || *end != '\0' || errno || n > UINT32_MAX)
      throw GpuError(kv.substr(0, eq) + "=" + value + ": expected a decimal number below 2^32");
    out[name] = uint32_t(n);
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string vendor_name(uint32_t id, const std::string& device_name) {
  switch (id) {
    case 0x10DE:
      return "NVIDIA";
    case 0x1002:
      return "AMD";
    case 0x8086:
      return "Intel";
    case 0x13B5:
      return "ARM";
    case 0x5143:
      return "Qualcomm";
    case 0x106B:
      return "Apple";
    case 0x10005:
      return device_name.find("llvmpipe") != std::string::npos ? "Mesa (llvmpipe)" : "Mesa";
    default:
      return "unknown";
  }
}

std::string type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "cpu";
    default:
      return "other";
  }
}

int type_rank(const std::string& t) {
  if (t == "discrete") return 0;
  if (t == "integrated") return 1;
  if (t == "virtual") return 2;
  if (t == "cpu") return 3;
  return 4;
}

std::string version_string(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

bool offers_coopmat_16x16x16_f16_f32(VkInstance instance, VkPhysicalDevice pd) {
  auto get = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
  if (!get) return false;
  uint32_t n = 0;
  if (get(pd, &n, nullptr) != VK_SUCCESS) return false;
  std::vector<VkCooperativeMatrixPropertiesNV> props(n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
  const VkResult r = get(pd, &n, props.data());
  if (r != VK_SUCCESS && r != VK_INCOMPLETE) return false;
  props.resize(n);
  for (const auto& p : props)
    if (p.MSize == 16 && p.NSize == 16 && p.KSize == 16 && p.AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
        p.BType == VK_COMPONENT_TYPE_FLOAT16_NV && p.CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
        p.DType == VK_COMPONENT_TYPE_FLOAT32_NV && p.scope == VK_SCOPE_SUBGROUP_NV)
      return true;
  return false;
}

// VK_NV_cooperative_matrix2's flexible f16 x f16 -> f32 shapes, as "MxNxK @ scope/invocations".
std::vector<std::string> coopmat2_flexible_shapes(VkInstance instance, VkPhysicalDevice pd) {
  auto get = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV"));
  std::vector<std::string> out;
  if (!get) return out;
  uint32_t n = 0;
  if (get(pd, &n, nullptr) != VK_SUCCESS || n == 0 || n > 4096) return out;
  std::vector<VkCooperativeMatrixFlexibleDimensionsPropertiesNV> props(n);
  for (auto& p : props) {
    p = {};
    p.sType = SMOLVK_STYPE_COOPMAT2_FLEXIBLE;
  }
  const VkResult r = get(pd, &n, props.data());
  if (r != VK_SUCCESS && r != VK_INCOMPLETE) return out;
  props.resize(std::min<size_t>(n, props.size()));
  for (const auto& p : props)
    if (uint32_t(p.AType) == 0 && uint32_t(p.BType) == 0 && uint32_t(p.CType) == 1 && uint32_t(p.ResultType) == 1)
      out.push_back(std::to_string(p.MGranularity) + "x" + std::to_string(p.NGranularity) + "x" +
                    std::to_string(p.KGranularity) + " @ " + (uint32_t(p.scope) == 2 ? "workgroup" : "subgroup") + "/" +
                    std::to_string(p.workgroupInvocations));
  return out;
}

}  // namespace

ContextOptions ContextOptions::from_env() {
  ContextOptions o;
  if (const char* d = std::getenv("SMOLVK_DEVICE")) o.device = d;
  o.validation = env_flag("SMOLVK_VALIDATION");
  o.portable = env_flag("SMOLVK_PORTABLE");
  if (const char* p = std::getenv("SMOLVK_DEVICE_PROFILE")) o.profile = p;
  o.tuning = tuning_from_env();
  if (const char* b = std::getenv("SMOLVK_MEMORY_BUDGET"); b && *b)
    o.memory_budget_bytes = parse_byte_count(b, "SMOLVK_MEMORY_BUDGET");
  if (const char* f = std::getenv("SMOLVK_FAULT"); f && *f) {
    parse_fault_spec(f, "SMOLVK_FAULT");  // a bad value is an error here, naming the variable
    o.fault = f;
  }
  return o;
}

VkInstance create_instance(bool validation, bool* debug_utils, const std::vector<std::string>& extra_extensions) {
  uint32_t count = 0;
  VK_CHECK(vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr));
  std::vector<VkExtensionProperties> available(count);
  VK_CHECK(vkEnumerateInstanceExtensionProperties(nullptr, &count, available.data()));

  std::vector<const char*> extensions;
  std::vector<const char*> layers;
  VkInstanceCreateFlags flags = 0;
  // Lets MoltenVK-style portability drivers be listed.
  if (has_extension(available, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
    extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
    flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
  }
  *debug_utils = false;
  if (validation) {
    uint32_t lc = 0;
    VK_CHECK(vkEnumerateInstanceLayerProperties(&lc, nullptr));
    std::vector<VkLayerProperties> ls(lc);
    VK_CHECK(vkEnumerateInstanceLayerProperties(&lc, ls.data()));
    bool found = false;
    for (const auto& l : ls)
      if (std::strcmp(l.layerName, "VK_LAYER_KHRONOS_validation") == 0) found = true;
    if (!found)
      throw GpuError(
          "validation requested (SMOLVK_VALIDATION=1) but VK_LAYER_KHRONOS_validation "
          "is not installed (Debian: vulkan-validationlayers)");
    layers.push_back("VK_LAYER_KHRONOS_validation");
    if (has_extension(available, VK_EXT_DEBUG_UTILS_EXTENSION_NAME)) {
      extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
      *debug_utils = true;
    }
  }

  for (const auto& e : extra_extensions) {
    if (!has_extension(available, e.c_str()))
      throw GpuError("the Vulkan instance lacks the extension " + e + " that was asked for");
    extensions.push_back(e.c_str());
  }

  uint32_t instance_version = VK_API_VERSION_1_0;
  vkEnumerateInstanceVersion(&instance_version);
  if (instance_version < VK_API_VERSION_1_2)
    throw GpuError("the Vulkan loader supports only " + version_string(instance_version) + "; smolvk needs Vulkan 1.2");

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "smolvk";
  app.pEngineName = "smolvk";
  // With the cooperative_matrix2 opt-in, 1.3 where the loader has it: that GEMM's SPIR-V is
  // version 1.6, which needs a Vulkan 1.3 instance and device.
  app.apiVersion = env_flag("SMOLVK_COOPMAT2") && instance_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3
                                                                                        : VK_API_VERSION_1_2;

  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.flags = flags;
  ci.pApplicationInfo = &app;
  ci.enabledExtensionCount = uint32_t(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  ci.enabledLayerCount = uint32_t(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r = vkCreateInstance(&ci, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw GpuError(
        "vkCreateInstance found no Vulkan driver (VK_ERROR_INCOMPATIBLE_DRIVER); "
        "install one, e.g. Debian's mesa-vulkan-drivers for the CPU driver lavapipe");
  VK_CHECK(r);
  return instance;
}

Capabilities probe_device(VkInstance instance, VkPhysicalDevice pd, uint32_t index, const ContextOptions& options) {
  Capabilities c;
  c.index = index;
  c.tuning = options.tuning;

  uint32_t ec = 0;
  VK_CHECK(vkEnumerateDeviceExtensionProperties(pd, nullptr, &ec, nullptr));
  std::vector<VkExtensionProperties> exts(ec);
  VK_CHECK(vkEnumerateDeviceExtensionProperties(pd, nullptr, &ec, exts.data()));

  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceIDProperties ids{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceSubgroupSizeControlPropertiesEXT ssc{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT};
  VkPhysicalDeviceMaintenance4Properties m4{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
  subgroup.pNext = &driver;
  driver.pNext = &ids;
  ids.pNext = &m3;
  bool has_ssc = has_extension(exts, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
  bool has_m4 = has_extension(exts, VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
  void** tail = &m3.pNext;
  if (has_ssc) {
    *tail = &ssc;
    tail = &ssc.pNext;
  }
  if (has_m4) {
    *tail = &m4;
    tail = &m4.pNext;
  }
  // VK_NV_cooperative_matrix2 is queried only on the opt-in: Debian 12's validation layers
  // (1.3.239) report its structures in these chains as errors.
  const bool cm2_listed = has_extension(exts, VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME) &&
                          has_extension(exts, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME);
  const bool has_cm2 = cm2_listed && env_flag("SMOLVK_COOPMAT2");
  c.cooperative_matrix2_listed = cm2_listed;
  VkPhysicalDeviceCooperativeMatrix2PropertiesNV cm2p{};
  cm2p.sType = SMOLVK_STYPE_COOPMAT2_PROPERTIES;
  if (has_cm2) {
    *tail = &cm2p;
    tail = &cm2p.pNext;
  }
  VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props2.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(pd, &props2);
  const auto& p = props2.properties;

  c.name = p.deviceName;
  c.device_type = type_name(p.deviceType);
  c.vendor_id = p.vendorID;
  c.device_id = p.deviceID;
  c.vendor = vendor_name(p.vendorID, c.name);
  c.api_version = version_string(p.apiVersion);
  c.driver_version = p.driverVersion;
  c.driver_name = driver.driverName;
  c.driver_info = driver.driverInfo;
  std::memcpy(c.pipeline_cache_uuid.data(), p.pipelineCacheUUID, 16);
  std::memcpy(c.driver_uuid.data(), ids.driverUUID, 16);

  c.subgroup_size = subgroup.subgroupSize;
  bool compute_stage = subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT;
  c.subgroup_basic = compute_stage && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
  c.subgroup_arithmetic = compute_stage && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  c.subgroup_shuffle = compute_stage && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
  if (has_ssc) {
    c.subgroup_size_control = true;
    c.min_subgroup_size = ssc.minSubgroupSize;
    c.max_subgroup_size = ssc.maxSubgroupSize;
  }
  c.max_storage_buffer_range = p.limits.maxStorageBufferRange;
  c.min_storage_buffer_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
  c.max_memory_allocation_size = m3.maxMemoryAllocationSize;
  c.max_buffer_size = has_m4 ? m4.maxBufferSize : m3.maxMemoryAllocationSize;
  c.max_shared_memory = p.limits.maxComputeSharedMemorySize;
  c.max_push_constants = p.limits.maxPushConstantsSize;
  c.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) {
    c.max_workgroup_size[i] = p.limits.maxComputeWorkGroupSize[i];
    c.max_workgroup_count[i] = p.limits.maxComputeWorkGroupCount[i];
  }

  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(pd, &mp);
  for (uint32_t i = 0; i < mp.memoryHeapCount; ++i)
    if (mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      c.device_local_bytes = std::max<uint64_t>(c.device_local_bytes, mp.memoryHeaps[i].size);

  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceShaderAtomicFloatFeaturesEXT fat{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_ATOMIC_FLOAT_FEATURES_EXT};
  const bool has_atomic_float = has_extension(exts, VK_EXT_SHADER_ATOMIC_FLOAT_EXTENSION_NAME);
  if (has_atomic_float) f12.pNext = &fat;
  VkPhysicalDeviceSubgroupSizeControlFeaturesEXT fssc{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT};
  if (has_ssc) {
    fssc.pNext = f12.pNext;
    f12.pNext = &fssc;
  }
  VkPhysicalDeviceCooperativeMatrixFeaturesKHR fkhr{};
  fkhr.sType = SMOLVK_STYPE_COOPMAT_KHR_FEATURES;
  VkPhysicalDeviceCooperativeMatrix2FeaturesNV fcm2{};
  fcm2.sType = SMOLVK_STYPE_COOPMAT2_FEATURES;
  if (has_cm2) {
    fkhr.pNext = &fcm2;
    fcm2.pNext = f12.pNext;
    f12.pNext = &fkhr;
  }
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(pd, &f2);
  c.float_atomic_add = has_atomic_float && fat.shaderBufferFloat32AtomicAdd;
  c.full_subgroups = has_ssc && fssc.computeFullSubgroups;
  c.fp16_arithmetic = f12.shaderFloat16;
  c.int8_arithmetic = f12.shaderInt8;
  c.int16 = f2.features.shaderInt16;
  c.int64 = f2.features.shaderInt64;
  c.storage_16bit = f11.storageBuffer16BitAccess;
  c.storage_8bit = f12.storageBuffer8BitAccess;
  c.integer_dot_product =
      has_extension(exts, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME) || VK_API_VERSION_MINOR(p.apiVersion) >= 3;
  c.cooperative_matrix_nv = has_extension(exts, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  c.vulkan_memory_model = f12.vulkanMemoryModel;
  c.vulkan_memory_model_device_scope = f12.vulkanMemoryModelDeviceScope;
  // Only where the extension is listed: lavapipe crashes when asked without it.
  if (c.cooperative_matrix_nv) c.coopmat_16x16x16_f16_f32 = offers_coopmat_16x16x16_f16_f32(instance, pd);
  c.cooperative_matrix2_nv = has_cm2 && fkhr.cooperativeMatrix && fcm2.cooperativeMatrixWorkgroupScope &&
                             fcm2.cooperativeMatrixFlexibleDimensions && fcm2.cooperativeMatrixTensorAddressing &&
                             fcm2.cooperativeMatrixPerElementOperations;
  if (c.cooperative_matrix2_nv) {
    c.coopmat2_max_workgroup = cm2p.cooperativeMatrixWorkgroupScopeMaxWorkgroupSize;
    c.coopmat2_max_dimension = cm2p.cooperativeMatrixFlexibleDimensionsMaxDimension;
    c.coopmat2_reserved_shared = cm2p.cooperativeMatrixWorkgroupScopeReservedSharedMemory;
    c.coopmat2_shapes = coopmat2_flexible_shapes(instance, pd);
  }

  uint32_t qc = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &qc, nullptr);
  std::vector<VkQueueFamilyProperties> qf(qc);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &qc, qf.data());
  for (const auto& q : qf)
    if (q.queueFlags & VK_QUEUE_COMPUTE_BIT) {
      c.timestamp_valid_bits = q.timestampValidBits;
      break;
    }
  c.timestamps = p.limits.timestampComputeAndGraphics && c.timestamp_valid_bits > 0;
  c.timestamp_period_ns = p.limits.timestampPeriod;

  if (!options.profile.empty()) apply_device_profile(c, find_device_profile(options.profile));

  bool portable = options.portable;
  c.use_fp16 = c.fp16_arithmetic && c.storage_16bit && !portable && !env_flag("SMOLVK_NO_FP16");
  c.use_subgroup = c.subgroup_arithmetic && !portable && !env_flag("SMOLVK_NO_SUBGROUP");
  c.use_storage16 = c.storage_16bit && !portable && !env_flag("SMOLVK_NO_STORAGE16");
  c.use_coopmat = c.cooperative_matrix_nv && c.coopmat_16x16x16_f16_f32 && c.vulkan_memory_model && c.use_fp16 &&
                  !portable && !env_flag("SMOLVK_NO_COOPMAT");
  uint32_t instance_version = VK_API_VERSION_1_0;
  vkEnumerateInstanceVersion(&instance_version);
  c.use_coopmat2 = c.use_coopmat && c.cooperative_matrix2_nv && !c.coopmat2_shapes.empty() &&
                   instance_version >= VK_API_VERSION_1_3 && p.apiVersion >= VK_API_VERSION_1_3 &&
                   find_embedded_shader("matmul_coopmat2_f16") != nullptr;
  // Atomics use device scope, which the Vulkan memory model (enabled for coopmat) allows only
  // with vulkanMemoryModelDeviceScope.
  c.use_float_atomics = c.float_atomic_add && (!c.use_coopmat || c.vulkan_memory_model_device_scope) && !portable &&
                        !env_flag("SMOLVK_NO_FLOAT_ATOMICS");
  return c;
}

uint32_t choose_device(const std::vector<Capabilities>& devices, const std::string& selector) {
  if (devices.empty()) throw GpuError("no Vulkan device found");
  if (!selector.empty()) {
    bool numeric = std::all_of(selector.begin(), selector.end(),
                               [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
    if (numeric) {
      unsigned long i = std::stoul(selector);
      if (i >= devices.size())
        throw GpuError("SMOLVK_DEVICE=" + selector + ": there are only " + std::to_string(devices.size()) +
                       " Vulkan devices (0.." + std::to_string(devices.size() - 1) + ")");
      return uint32_t(i);
    }
    for (const auto& d : devices)
      if (lower(d.name).find(lower(selector)) != std::string::npos) return d.index;
    std::string names;
    for (const auto& d : devices) names += (names.empty() ? "" : ", ") + d.name;
    throw GpuError("SMOLVK_DEVICE=" + selector + " matches no device; devices: " + names);
  }
  uint32_t best = 0;
  for (const auto& d : devices)
    if (type_rank(d.device_type) < type_rank(devices[best].device_type)) best = d.index;
  return best;
}

uint32_t choose_device_index(const std::vector<Capabilities>& devices, const std::string& selector) {
  return choose_device(devices, selector);
}

std::vector<Capabilities> list_devices(const ContextOptions& options) {
  bool debug_utils = false;
  VkInstance instance = create_instance(false, &debug_utils);
  std::vector<Capabilities> out;
  try {
    uint32_t n = 0;
    VK_CHECK(vkEnumeratePhysicalDevices(instance, &n, nullptr));
    std::vector<VkPhysicalDevice> pds(n);
    VK_CHECK(vkEnumeratePhysicalDevices(instance, &n, pds.data()));
    for (uint32_t i = 0; i < n; ++i) out.push_back(probe_device(instance, pds[i], i, options));
  } catch (...) {
    vkDestroyInstance(instance, nullptr);
    throw;
  }
  vkDestroyInstance(instance, nullptr);
  return out;
}

nlohmann::json Capabilities::to_json() const {
  auto hex = [](const std::array<uint8_t, 16>& u) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (auto b : u) {
      s += d[b >> 4];
      s += d[b & 15];
    }
    return s;
  };
  return {
      {"index", index},
      {"name", name},
      {"profile", profile},
      {"type", device_type},
      {"vendor", vendor},
      {"vendor_id", vendor_id},
      {"device_id", device_id},
      {"api_version", api_version},
      {"driver_name", driver_name},
      {"driver_info", driver_info},
      {"driver_version", driver_version},
      {"pipeline_cache_uuid", hex(pipeline_cache_uuid)},
      {"subgroup",
       {{"size", subgroup_size},
        {"basic", subgroup_basic},
        {"arithmetic", subgroup_arithmetic},
        {"shuffle", subgroup_shuffle},
        {"size_control", subgroup_size_control},
        {"min_size", min_subgroup_size},
        {"max_size", max_subgroup_size},
        {"full_subgroups", full_subgroups}}},
      {"fp16_arithmetic", fp16_arithmetic},
      {"int8_arithmetic", int8_arithmetic},
      {"int16", int16},
      {"int64", int64},
      {"storage_16bit", storage_16bit},
      {"storage_8bit", storage_8bit},
      {"integer_dot_product", integer_dot_product},
      {"cooperative_matrix_nv", cooperative_matrix_nv},
      {"coopmat_16x16x16_f16_f32", coopmat_16x16x16_f16_f32},
      {"cooperative_matrix2_nv",
       {{"listed", cooperative_matrix2_listed},
        {"supported", cooperative_matrix2_nv},
        {"max_workgroup", coopmat2_max_workgroup},
        {"max_dimension", coopmat2_max_dimension},
        {"reserved_shared_memory", coopmat2_reserved_shared},
        {"f16_f32_shapes", coopmat2_shapes}}},
      {"float_atomic_add", float_atomic_add},
      {"vulkan_memory_model", vulkan_memory_model},
      {"vulkan_memory_model_device_scope", vulkan_memory_model_device_scope},
      {"limits",
       {{"max_storage_buffer_range", max_storage_buffer_range},
        {"min_storage_buffer_offset_alignment", min_storage_buffer_offset_alignment},
        {"max_memory_allocation_size", max_memory_allocation_size},
        {"max_buffer_size", max_buffer_size},
        {"device_local_bytes", device_local_bytes},
        {"max_shared_memory", max_shared_memory},
        {"max_push_constants", max_push_constants},
        {"max_workgroup_invocations", max_workgroup_invocations},
        {"max_workgroup_size", max_workgroup_size},
        {"max_workgroup_count", max_workgroup_count}}},
      {"timestamps",
       {{"supported", timestamps}, {"period_ns", timestamp_period_ns}, {"valid_bits", timestamp_valid_bits}}},
      {"fast_paths",
       {{"fp16", use_fp16},
        {"subgroup", use_subgroup},
        {"storage16", use_storage16},
        {"coopmat", use_coopmat},
        {"coopmat2", use_coopmat2},
        {"float_atomics", use_float_atomics},
        {"coopmat_mma_layout", coopmat_mma_layout}}},
      {"tuning", tuning},
  };
}

}  // namespace smolvk
