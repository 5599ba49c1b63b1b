// Context: device creation, validation messages, uploads/downloads.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "runtime/context_impl.h"
#include "runtime/graph.h"
#include "runtime/vk_coopmat2.h"

namespace smolvk {
namespace {

VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                VkDebugUtilsMessageTypeFlagsEXT type,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  if (!(type & VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT)) return VK_FALSE;
  if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
  auto* impl = static_cast<Context::Impl*>(user);
  std::string msg = data->pMessage ? data->pMessage : "(no message)";
  {
    std::lock_guard lock(impl->validation_mutex);
    impl->validation_messages.push_back(msg);
  }
  if (impl->options.on_validation_message) impl->options.on_validation_message(msg);
  return VK_FALSE;
}

uint32_t find_memory_type(const VkPhysicalDeviceMemoryProperties& mp, uint32_t bits, VkMemoryPropertyFlags want,
                          VkMemoryPropertyFlags fallback) {
  for (VkMemoryPropertyFlags flags : {want, fallback})
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
      if ((bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & flags) == flags) return i;
  throw GpuError("no suitable Vulkan memory type");
}

}  // namespace

static bool probe_coopmat_mma_layout(Context& ctx);

Context::Context(ContextOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& I = *impl_;
  I.options = std::move(options);
  bool debug_utils = false;
  I.instance = create_instance(I.options.validation, &debug_utils, I.options.instance_extensions);
  if (debug_utils) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(I.instance, "vkCreateDebugUtilsMessengerEXT"));
    VkDebugUtilsMessengerCreateInfoEXT mci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mci.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
    mci.pfnUserCallback = on_debug_message;
    mci.pUserData = &I;
    if (create) VK_CHECK(create(I.instance, &mci, nullptr, &I.messenger));
  }

  uint32_t n = 0;
  VK_CHECK(vkEnumeratePhysicalDevices(I.instance, &n, nullptr));
  std::vector<VkPhysicalDevice> pds(n);
  VK_CHECK(vkEnumeratePhysicalDevices(I.instance, &n, pds.data()));
  std::vector<Capabilities> all;
  for (uint32_t i = 0; i < n; ++i) all.push_back(probe_device(I.instance, pds[i], i, I.options));
  uint32_t chosen = choose_device(all, I.options.device);
  I.physical = pds[chosen];
  I.caps = all[chosen];

  uint32_t qc = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(I.physical, &qc, nullptr);
  std::vector<VkQueueFamilyProperties> qf(qc);
  vkGetPhysicalDeviceQueueFamilyProperties(I.physical, &qc, qf.data());
  I.queue_family = UINT32_MAX;
  VkQueueFlags want = VK_QUEUE_COMPUTE_BIT | (I.options.graphics_queue ? VK_QUEUE_GRAPHICS_BIT : 0);
  for (uint32_t i = 0; i < qc; ++i)  // the first queue that can do compute (+ graphics if asked)
    if ((qf[i].queueFlags & want) == want) {
      I.queue_family = i;
      break;
    }
  if (I.queue_family == UINT32_MAX)
    throw GpuError(I.caps.name + " has no " + (I.options.graphics_queue ? "graphics+compute" : "compute") + " queue");

  uint32_t ec = 0;
  VK_CHECK(vkEnumerateDeviceExtensionProperties(I.physical, nullptr, &ec, nullptr));
  std::vector<VkExtensionProperties> exts(ec);
  VK_CHECK(vkEnumerateDeviceExtensionProperties(I.physical, nullptr, &ec, exts.data()));
  auto has = [&](const char* e) {
    for (auto& x : exts)
      if (std::strcmp(x.extensionName, e) == 0) return true;
    return false;
  };
  std::vector<const char*> enable;
  if (has(VK_EXT_PIPELINE_CREATION_FEEDBACK_EXTENSION_NAME)) {
    enable.push_back(VK_EXT_PIPELINE_CREATION_FEEDBACK_EXTENSION_NAME);
    I.creation_feedback = true;
  }
  if (has("VK_KHR_portability_subset")) enable.push_back("VK_KHR_portability_subset");
  for (const auto& e : I.options.device_extensions) {
    if (!has(e.c_str())) throw GpuError(I.caps.name + " lacks the device extension " + e + " that was asked for");
    enable.push_back(e.c_str());
  }

  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceCooperativeMatrixFeaturesNV fcm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  f2.features.shaderInt16 = I.caps.int16;
  f2.features.shaderInt64 = I.caps.int64;
  f11.storageBuffer16BitAccess = I.caps.storage_16bit;
  f12.shaderFloat16 = I.caps.fp16_arithmetic;
  f12.shaderInt8 = I.caps.int8_arithmetic;
  f12.storageBuffer8BitAccess = I.caps.storage_8bit;
  if (I.caps.use_coopmat) {
    enable.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    fcm.cooperativeMatrix = VK_TRUE;
    f12.vulkanMemoryModel = VK_TRUE;  // GL_NV_cooperative_matrix SPIR-V uses the Vulkan memory model
    f12.vulkanMemoryModelDeviceScope = I.caps.use_float_atomics;  // the atomics' device scope
    f12.pNext = &fcm;
  }

  // VK_NV_cooperative_matrix2 (matmul_coopmat2.comp) on top of VK_KHR_cooperative_matrix.
  VkPhysicalDeviceCooperativeMatrixFeaturesKHR fkhr{};
  fkhr.sType = SMOLVK_STYPE_COOPMAT_KHR_FEATURES;
  VkPhysicalDeviceCooperativeMatrix2FeaturesNV fcm2{};
  fcm2.sType = SMOLVK_STYPE_COOPMAT2_FEATURES;
  if (I.caps.use_coopmat2) {
    enable.push_back(VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME);
    enable.push_back(VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME);
    fkhr.cooperativeMatrix = VK_TRUE;
    fcm2.cooperativeMatrixWorkgroupScope = VK_TRUE;
    fcm2.cooperativeMatrixFlexibleDimensions = VK_TRUE;
    fcm2.cooperativeMatrixTensorAddressing = VK_TRUE;
    fcm2.cooperativeMatrixPerElementOperations = VK_TRUE;
    fkhr.pNext = &fcm2;
    fcm2.pNext = f12.pNext;
    f12.pNext = &fkhr;
  }
  // Its SPIR-V 1.6 declares the workgroup size with LocalSizeId, which needs maintenance4.
  VkPhysicalDeviceMaintenance4Features fm4{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_FEATURES};
  if (I.caps.use_coopmat2) {
    fm4.maintenance4 = VK_TRUE;
    fm4.pNext = f12.pNext;
    f12.pNext = &fm4;
  }

  VkPhysicalDeviceShaderAtomicFloatFeaturesEXT fat{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_ATOMIC_FLOAT_FEATURES_EXT};
  if (I.caps.use_float_atomics) {
    enable.push_back(VK_EXT_SHADER_ATOMIC_FLOAT_EXTENSION_NAME);
    fat.shaderBufferFloat32AtomicAdd = VK_TRUE;
    fat.pNext = f12.pNext;
    f12.pNext = &fat;
  }
  // SMOLVK_LOG_PIPELINES=1 also logs the driver's statistics of each pipeline (registers,
  // spills, shared memory ... as the driver names them) where it offers them.
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR fpe{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
  if (const char* v = std::getenv("SMOLVK_LOG_PIPELINES");
      v && *v && std::string(v) != "0" && has(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME)) {
    enable.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
    fpe.pipelineExecutableInfo = VK_TRUE;
    fpe.pNext = f12.pNext;
    f12.pNext = &fpe;
    I.executable_stats = true;
  }
  // Full subgroups for workgroups that are a whole number of them (see pipelines.cpp).
  VkPhysicalDeviceSubgroupSizeControlFeaturesEXT fssc{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT};
  if (I.caps.full_subgroups) {
    enable.push_back(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    fssc.computeFullSubgroups = VK_TRUE;
    fssc.pNext = f12.pNext;
    f12.pNext = &fssc;
  }

  float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = I.queue_family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &f2;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = uint32_t(enable.size());
  dci.ppEnabledExtensionNames = enable.data();
  VK_CHECK(vkCreateDevice(I.physical, &dci, nullptr, &I.device));
  vkGetDeviceQueue(I.device, I.queue_family, 0, &I.queue);
  if (I.executable_stats) {
    I.get_executables = reinterpret_cast<PFN_vkGetPipelineExecutablePropertiesKHR>(
        vkGetDeviceProcAddr(I.device, "vkGetPipelineExecutablePropertiesKHR"));
    I.get_executable_stats = reinterpret_cast<PFN_vkGetPipelineExecutableStatisticsKHR>(
        vkGetDeviceProcAddr(I.device, "vkGetPipelineExecutableStatisticsKHR"));
    I.executable_stats = I.get_executables && I.get_executable_stats;
  }
  vkGetPhysicalDeviceMemoryProperties(I.physical, &I.memory_properties);

  // Memory types: device-local for tensors (host-visible too where that is free, e.g. on
  // CPU drivers and UMA), host-visible+coherent for staging and params.
  I.device_memory_type = find_memory_type(
      I.memory_properties, ~0u,
      VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
      VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  if (I.caps.device_type == "discrete")  // BAR memory is small and slow to read from the host
    I.device_memory_type = find_memory_type(I.memory_properties, ~0u, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                            VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  I.host_memory_type = find_memory_type(
      I.memory_properties, ~0u,
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);

  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = I.queue_family;
  VK_CHECK(vkCreateCommandPool(I.device, &pci, nullptr, &I.command_pool));
  VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cai.commandPool = I.command_pool;
  cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cai.commandBufferCount = 1;
  VK_CHECK(vkAllocateCommandBuffers(I.device, &cai, &I.transfer_cmd));
  VK_CHECK(vkAllocateCommandBuffers(I.device, &cai, &I.transfer_cmd2));
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VK_CHECK(vkCreateFence(I.device, &fci, nullptr, &I.transfer_fence));
  VK_CHECK(vkCreateFence(I.device, &fci, nullptr, &I.transfer_fence2));

  // The one pipeline layout every op shares: kMaxBindings storage buffers + 128 bytes of
  // push constants.
  std::vector<VkDescriptorSetLayoutBinding> bindings(8);
  for (uint32_t i = 0; i < bindings.size(); ++i)
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dl.bindingCount = uint32_t(bindings.size());
  dl.pBindings = bindings.data();
  VK_CHECK(vkCreateDescriptorSetLayout(I.device, &dl, nullptr, &I.set_layout));
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, 128};
  VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &I.set_layout;
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &range;
  VK_CHECK(vkCreatePipelineLayout(I.device, &pl, nullptr, &I.pipeline_layout));
  I.load_pipeline_cache();
  I.budget = I.options.memory_budget_bytes;
  I.dummy = I.allocate(256);
  if (I.caps.use_coopmat && I.caps.subgroup_size == 32) {
    // The probe's pipeline is the context's own: it does not count in the cache statistics.
    const PipelineCacheStats before = I.cache_stats;
    I.caps.coopmat_mma_layout = probe_coopmat_mma_layout(*this);
    I.cache_stats.pipelines_created = before.pipelines_created;
    I.cache_stats.cache_hits = before.cache_hits;
  }
  // Armed last: "the N-th submit from now" counts the submits after creation.
  if (!I.options.fault.empty()) {
    I.submits_until_fault = parse_fault_spec(I.options.fault, "ContextOptions::fault");
    const char* env = std::getenv("SMOLVK_FAULT");
    I.fault_from_env = env && I.options.fault == env;
  }
}

// Runs shaders/coopmat_layout.comp and compares each element's place with the mma.m16n8k16
// accumulator layout; false on any difference or failure (the kernels that need it are then
// not used).
static bool probe_coopmat_mma_layout(Context& ctx) {
  // coopmat_layout.comp's output: the fp32 matrix, its elements per invocation and subgroup
  // size, then the fp16 matrix read as A and as B, and its elements per invocation.
  constexpr size_t kF16A = 258, kF16B = 514, kF16Length = 770, kWords = 771;
  try {
    Buffer out = ctx.create_buffer(kWords * 4);
    Graph g(ctx);
    Dispatch d{.name = "coopmat_layout_probe", .op = "probe", .shader = "coopmat_layout"};
    d.bindings = {{g.external(out), Access::Write}};
    g.add(std::move(d));
    Program p = g.compile();
    p.run();
    std::vector<float> o(kWords);
    ctx.download(out, o.data(), o.size() * 4);
    if (const char* v = std::getenv("SMOLVK_LOG_COOPMAT_LAYOUT"); v && *v == '1') {
      std::fprintf(stderr, "coopmat layout probe: %g elements per invocation, subgroup %g; lane*64+e by row:\n", o[256],
                   o[257]);
      for (int r = 0; r < 16; ++r) {
        for (int c = 0; c < 16; ++c) std::fprintf(stderr, " %4.0f", o[r * 16 + c]);
        std::fprintf(stderr, "\n");
      }
      // fp16 operands: lane*8+e at each row, column of A and of B as the multiply read them.
      for (const auto& [name, base] : {std::pair{"A", kF16A}, std::pair{"B", kF16B}}) {
        std::fprintf(stderr, "fp16 %s (%g elements per invocation), lane*8+e by row:\n", name, o[kF16Length]);
        for (int r = 0; r < 16; ++r) {
          for (int c = 0; c < 16; ++c) std::fprintf(stderr, " %4.0f", o[base + r * 16 + c]);
          std::fprintf(stderr, "\n");
        }
      }
    }
    if (o[256] != 8.0f || o[257] != 32.0f) return false;
    for (uint32_t l = 0; l < 32; ++l)
      for (uint32_t e = 0; e < 8; ++e) {
        const uint32_t row = l / 4 + 8 * (e / 4), col = 2 * (l % 4) + e % 2 + 8 * ((e / 2) % 2);
        if (o[row * 16 + col] != float(l * 64 + e)) return false;
      }
    return true;
  } catch (const std::exception& e) {
    if (const char* v = std::getenv("SMOLVK_LOG_COOPMAT_LAYOUT"); v && *v == '1')
      std::fprintf(stderr, "coopmat layout probe failed: %s\n", e.what());
    return false;
  }
}

Context::~Context() = default;

Context::Impl::~Impl() {
  if (device) {
    vkDeviceWaitIdle(device);
    try {
      save_pipeline_cache();
    } catch (...) {
      // a cache that cannot be written only costs time on the next start
    }
    for (auto& [k, p] : pipelines) vkDestroyPipeline(device, p, nullptr);
    for (auto& [k, m] : modules) vkDestroyShaderModule(device, m, nullptr);
    if (pipeline_cache) vkDestroyPipelineCache(device, pipeline_cache, nullptr);
    if (pipeline_layout) vkDestroyPipelineLayout(device, pipeline_layout, nullptr);
    if (set_layout) vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
    staging.reset();
    if (dummy) dummy->owner = nullptr;  // its block is freed with the others below
    dummy.reset();
    if (transfer_fence) vkDestroyFence(device, transfer_fence, nullptr);
    if (transfer_fence2) vkDestroyFence(device, transfer_fence2, nullptr);
    if (command_pool) vkDestroyCommandPool(device, command_pool, nullptr);
    for (auto& b : blocks) {
      if (b->buffer) vkDestroyBuffer(device, b->buffer, nullptr);
      if (b->memory) vkFreeMemory(device, b->memory, nullptr);
    }
    blocks.clear();
    vkDestroyDevice(device, nullptr);
  }
  if (messenger) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance, messenger, nullptr);
  }
  if (instance) vkDestroyInstance(instance, nullptr);
}

const Capabilities& Context::caps() const { return impl_->caps; }
const ContextOptions& Context::options() const { return impl_->options; }

std::vector<std::string> Context::take_validation_messages() {
  std::lock_guard lock(impl_->validation_mutex);
  return std::exchange(impl_->validation_messages, {});
}

// ---- host buffers and transfers -------------------------------------------------------

HostBuffer::~HostBuffer() {
  if (!device) return;
  if (buffer) vkDestroyBuffer(device, buffer, nullptr);
  if (memory) vkFreeMemory(device, memory, nullptr);
  if (owner && memory) {
    std::lock_guard lock(owner->memory_mutex);
    owner->host_bytes_reserved -= size;
  }
}

std::unique_ptr<HostBuffer> Context::Impl::make_host_buffer(uint64_t bytes) {
  check_alive("allocating host-visible memory");
  const std::string what = "a host-visible buffer of " + std::to_string(bytes) + " bytes";
  auto h = std::make_unique<HostBuffer>();
  h->device = device;
  h->size = bytes;
  {
    std::lock_guard lock(memory_mutex);
    check_budget(bytes, what);
  }
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = bytes;
  bci.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  VK_CHECK(vkCreateBuffer(device, &bci, nullptr, &h->buffer));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, h->buffer, &req);
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = find_memory_type(memory_properties, req.memoryTypeBits,
                                         memory_properties.memoryTypes[host_memory_type].propertyFlags,
                                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  if (VkResult r = vkAllocateMemory(device, &mai, nullptr, &h->memory); r != VK_SUCCESS) {
    std::lock_guard lock(memory_mutex);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      throw_out_of_memory(req.size, what, "vkAllocateMemory", r);
    throw_vk_error("vkAllocateMemory", r);
  }
  {
    std::lock_guard lock(memory_mutex);
    h->size = req.size;
    host_bytes_reserved += req.size;
    h->owner = this;
  }
  VK_CHECK(vkBindBufferMemory(device, h->buffer, h->memory, 0));
  VK_CHECK(vkMapMemory(device, h->memory, 0, VK_WHOLE_SIZE, 0, &h->mapped));
  return h;
}

void Context::Impl::check_alive(const char* what) const {
  if (lost)
    throw GpuError(std::string("device lost: create a new Context (") + caps.name + " reported VK_ERROR_DEVICE_LOST; " +
                       what + " is refused)",
                   what, int(VK_ERROR_DEVICE_LOST), "VK_ERROR_DEVICE_LOST");
}

void Context::Impl::submit(VkCommandBuffer cmd, VkFence fence) {
  check_alive("submitting work");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  {
    std::lock_guard lock(queue_mutex);
    // An injected fault: this submit reports device loss and submits nothing, so nothing
    // waits on its fence.
    if (submits_until_fault > 0 && --submits_until_fault == 0) {
      lost = true;
      throw GpuError(std::string("device lost: ") + caps.name + " reported VK_ERROR_DEVICE_LOST at vkQueueSubmit (" +
                         (fault_from_env ? "simulated by SMOLVK_FAULT" : "simulated by Context::inject_fault") +
                         "); create a new Context",
                     "vkQueueSubmit", int(VK_ERROR_DEVICE_LOST), "VK_ERROR_DEVICE_LOST");
    }
    const VkResult r = vkQueueSubmit(queue, 1, &si, fence);
    mark_lost_if(r);
    if (r != VK_SUCCESS) throw_vk_error("vkQueueSubmit", r);
  }
}

void Context::Impl::wait(VkFence fence) {
  VkResult r = vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX);
  mark_lost_if(r);
  if (r != VK_SUCCESS) throw_vk_error("vkWaitForFences", r);
  VK_CHECK(vkResetFences(device, 1, &fence));
}

void Context::inject_fault(Fault fault, uint32_t nth_submit_from_now) {
  switch (fault) {
    case Fault::DeviceLostOnNextSubmit:
      if (nth_submit_from_now == 0) throw std::invalid_argument("inject_fault: the submit to fail counts from 1");
      impl_->fault_from_env = false;
      impl_->submits_until_fault = nth_submit_from_now;
      break;
  }
}

bool Context::device_lost() const { return impl_->lost; }

uint32_t parse_fault_spec(const std::string& spec, const std::string& source) {
  static const std::string prefix = "device_lost_after:";
  const std::string n = spec.rfind(prefix, 0) == 0 ? spec.substr(prefix.size()) : std::string();
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = n.empty() ? 0 : std::strtoull(n.c_str(), &end, 10);
  if (n.empty() || !std::isdigit(static_cast<unsigned char>(n[0])) || *end || errno || v == 0 || v > UINT32_MAX)
    throw GpuError(source + "=" + spec +
                   ": expected device_lost_after:N (N ≥ 1: the N-th queue submit "
                   "from now reports VK_ERROR_DEVICE_LOST)");
  return uint32_t(v);
}

uint64_t parse_byte_count(const std::string& text, const std::string& source) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = text.empty() ? 0 : std::strtoull(text.c_str(), &end, 10);
  int shift = -1;
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) && !errno) {
    const std::string suffix = end;
    if (suffix.empty())
      shift = 0;
    else if (suffix == "K" || suffix == "k")
      shift = 10;
    else if (suffix == "M" || suffix == "m")
      shift = 20;
    else if (suffix == "G" || suffix == "g")
      shift = 30;
  }
  if (shift < 0 || (shift && v > (UINT64_MAX >> shift)))
    throw GpuError(source + "=" + text +
                   ": expected a byte count: a decimal number with an optional K, M or G "
                   "suffix (e.g. 512M, 2G)");
  return uint64_t(v) << shift;
}

namespace {
constexpr uint64_t kStagingBytes = 64ull << 20;
}  // namespace

// 64 MiB, or an eighth of a memory budget (at least 1 MiB): the staging buffer counts
// against the budget like any other.
void Context::Impl::ensure_staging() {
  if (staging) return;
  const uint64_t bytes =
      budget ? std::clamp<uint64_t>(budget / 8 / 256 * 256, 1ull << 20, kStagingBytes) : kStagingBytes;
  staging = make_host_buffer(bytes);
}

namespace {

void check_range(const Buffer& b, uint64_t bytes, uint64_t offset, const char* what) {
  if (!b.valid()) throw GpuError(std::string(what) + ": invalid buffer");
  if (offset > b.size() || bytes > b.size() - offset)
    throw GpuError(std::string(what) + ": range [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) +
                   ") is outside the buffer of " + std::to_string(b.size()) + " bytes");
}

// memcpy on several threads for large copies: one thread writes host-visible (often
// write-combined) memory at a few GB/s, well below what the bus takes.
void copy_bytes(void* dst, const void* src, uint64_t n) {
  constexpr uint64_t kPerThread = 4ull << 20;
  const uint64_t threads = std::min<uint64_t>({n / kPerThread, std::max(1u, std::thread::hardware_concurrency()), 8});
  if (threads < 2) {
    std::memcpy(dst, src, n);
    return;
  }
  const uint64_t part = (n / threads + 63) / 64 * 64;
  std::vector<std::thread> pool;
  for (uint64_t t = 1; t < threads && t * part < n; ++t)
    pool.emplace_back([=] {
      std::memcpy(static_cast<uint8_t*>(dst) + t * part, static_cast<const uint8_t*>(src) + t * part,
                  std::min(part, n - t * part));
    });
  std::memcpy(dst, src, std::min(part, n));
  for (auto& th : pool) th.join();
}

// Records `record(cmd)` on a transfer command buffer between barriers that order it after
// earlier work and before later work.
template <class F>
void record_transfer(VkCommandBuffer cmd, F&& record) {
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VK_CHECK(vkBeginCommandBuffer(cmd, &bi));
  // Earlier submissions' shader writes → these transfers, and these transfers → later work.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr,
                       0, nullptr);
  record(cmd);
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask =
      VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0,
                       nullptr);
  VK_CHECK(vkEndCommandBuffer(cmd));
}

// Runs `record(cmd)` on the transfer command buffer and waits.
template <class F>
void one_shot(Context::Impl& I, F&& record) {
  I.settle_transfers();
  record_transfer(I.transfer_cmd, record);
  I.submit_and_wait(I.transfer_cmd, I.transfer_fence);
}
}  // namespace

void Context::upload(const Buffer& dst, const void* src, uint64_t bytes, uint64_t dst_offset) {
  const UploadPiece piece{src, bytes, dst_offset};
  upload(dst, std::span(&piece, 1));
}

void Context::Impl::settle_transfers() {
  const VkFence fences[2] = {transfer_fence, transfer_fence2};
  for (int i = 0; i < 2; ++i)
    if (transfer_busy[i]) {
      transfer_busy[i] = false;
      wait(fences[i]);
    }
}

void Context::upload(const Buffer& dst, std::span<const UploadPiece> pieces) {
  std::vector<BufferUpload> uploads;
  for (const UploadPiece& p : pieces) uploads.push_back({dst, p.src, p.bytes, p.dst_offset});
  upload_many(uploads, true);
}

void Context::upload_async(std::span<const BufferUpload> uploads) { upload_many(uploads, false); }

void Context::upload_many(std::span<const BufferUpload> uploads, bool wait) {
  uint64_t total = 0;
  for (const BufferUpload& u : uploads) {
    check_range(u.dst, u.bytes, u.dst_offset, "upload");
    total += u.bytes;
  }
  impl_->check_alive("an upload");
  if (total == 0) return;
  Impl& I = *impl_;
  std::lock_guard lock(I.transfer_mutex);
  // Host-visible device memory (one memory type for all buffers) is written in place.
  if (uploads.front().dst.allocation()->block->mapped) {
    for (const BufferUpload& u : uploads) {
      const Allocation* a = u.dst.allocation();
      copy_bytes(a->block->mapped + a->offset + u.dst_offset, u.src, u.bytes);
    }
    return;
  }
  I.ensure_staging();
  const uint64_t half = I.staging->size / 2 / 256 * 256;
  const VkCommandBuffer cmds[2] = {I.transfer_cmd, I.transfer_cmd2};
  const VkFence fences[2] = {I.transfer_fence, I.transfer_fence2};
  bool* busy = I.transfer_busy;
  // The halves are used in turn across calls; a half is waited for only when it is about to be
  // written again, so an upload queued behind long GPU work does not hold up the next one.
  int& h = I.transfer_half;
  const auto claim = [&] {
    if (busy[h]) {
      busy[h] = false;
      I.wait(fences[h]);
    }
  };
  uint64_t fill = 0;
  std::vector<std::pair<VkBuffer, VkBufferCopy>> regions;  // in order, by destination block
  const auto flush = [&] {
    record_transfer(cmds[h], [&](VkCommandBuffer cmd) {
      std::vector<VkBufferCopy> run;
      for (size_t i = 0; i < regions.size(); ++i) {
        run.push_back(regions[i].second);
        if (i + 1 == regions.size() || regions[i + 1].first != regions[i].first) {
          vkCmdCopyBuffer(cmd, I.staging->buffer, regions[i].first, uint32_t(run.size()), run.data());
          run.clear();
        }
      }
    });
    I.submit(cmds[h], fences[h]);
    busy[h] = true;
    regions.clear();
    fill = 0;
    h ^= 1;
  };
  try {
    claim();
    for (const BufferUpload& u : uploads) {
      const Allocation* a = u.dst.allocation();
      for (uint64_t done = 0; done < u.bytes;) {
        if (fill == 0) claim();
        const uint64_t n = std::min(u.bytes - done, half - fill);
        copy_bytes(static_cast<uint8_t*>(I.staging->mapped) + uint64_t(h) * half + fill,
                   static_cast<const uint8_t*>(u.src) + done, n);
        regions.push_back({a->block->buffer, {uint64_t(h) * half + fill, a->offset + u.dst_offset + done, n}});
        fill += n;
        done += n;
        if (fill == half) flush();
      }
    }
    if (!regions.empty()) flush();
    if (wait) I.settle_transfers();
  } catch (...) {
    for (int i = 0; i < 2; ++i)  // nothing may still read the staging buffer
      if (busy[i]) {
        busy[i] = false;
        vkWaitForFences(I.device, 1, &fences[i], VK_TRUE, UINT64_MAX);
        vkResetFences(I.device, 1, &fences[i]);
      }
    throw;
  }
}

void Context::download(const Buffer& src, void* dst, uint64_t bytes, uint64_t src_offset) {
  check_range(src, bytes, src_offset, "download");
  impl_->check_alive("a download");
  if (bytes == 0) return;
  Impl& I = *impl_;
  std::lock_guard lock(I.transfer_mutex);
  const Allocation* a = src.allocation();
  if (a->block->mapped) {
    std::memcpy(dst, a->block->mapped + a->offset + src_offset, bytes);
    return;
  }
  I.ensure_staging();
  auto* p = static_cast<uint8_t*>(dst);
  for (uint64_t done = 0; done < bytes;) {
    uint64_t n = std::min<uint64_t>(bytes - done, I.staging->size);
    one_shot(I, [&](VkCommandBuffer cmd) {
      VkBufferCopy c{a->offset + src_offset + done, 0, n};
      vkCmdCopyBuffer(cmd, a->block->buffer, I.staging->buffer, 1, &c);
    });
    std::memcpy(p + done, I.staging->mapped, n);
    done += n;
  }
}

void Context::copy(const Buffer& src, const Buffer& dst, std::span<const CopyRange> ranges) {
  std::vector<VkBufferCopy> regions;
  for (const CopyRange& r : ranges) {
    check_range(src, r.bytes, r.src_offset, "copy (source)");
    check_range(dst, r.bytes, r.dst_offset, "copy (destination)");
    if (r.bytes)
      regions.push_back({src.allocation()->offset + r.src_offset, dst.allocation()->offset + r.dst_offset, r.bytes});
  }
  if (regions.empty()) return;
  const Allocation* s = src.allocation();
  const Allocation* d = dst.allocation();
  impl_->check_alive("a copy");
  Impl& I = *impl_;
  std::lock_guard lock(I.transfer_mutex);
  one_shot(I, [&](VkCommandBuffer cmd) {
    vkCmdCopyBuffer(cmd, s->block->buffer, d->block->buffer, uint32_t(regions.size()), regions.data());
  });
}

void Context::fill_zero(const Buffer& dst) {
  check_range(dst, dst.size(), 0, "fill_zero");
  impl_->check_alive("fill_zero");
  Impl& I = *impl_;
  std::lock_guard lock(I.transfer_mutex);
  const Allocation* a = dst.allocation();
  if (a->block->mapped) {
    std::memset(a->block->mapped + a->offset, 0, dst.size());
    return;
  }
  one_shot(
      I, [&](VkCommandBuffer cmd) { vkCmdFillBuffer(cmd, a->block->buffer, a->offset, (dst.size() + 3) & ~3ull, 0); });
}

}  // namespace smolvk
