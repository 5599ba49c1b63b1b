#pragma once
// Internal to runtime/: the Vulkan objects behind Context.
#include <array>
#include <vulkan/vulkan.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/vk_check.h"

namespace smolvk {

// One VkDeviceMemory with one VkBuffer spanning it; Buffers are ranges of it.
struct MemoryBlock {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  uint64_t size = 0;
  uint8_t* mapped = nullptr;                 // non-null when the memory is host-visible and coherent
  std::map<uint64_t, uint64_t> free_ranges;  // offset → size
  uint64_t used = 0;
};

struct Allocation {
  Context::Impl* owner = nullptr;
  MemoryBlock* block = nullptr;
  uint64_t offset = 0;
  uint64_t size = 0;      // what the caller asked for
  uint64_t reserved = 0;  // aligned size taken from the block
  ~Allocation();
};

// A host-visible, coherent, mapped buffer used for staging and per-replay params.
struct HostBuffer {
  Context::Impl* owner = nullptr;  // gives its bytes back to the budget's count
  VkDevice device = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t size = 0;
  void* mapped = nullptr;
  HostBuffer() = default;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();
};

struct Context::Impl {
  ContextOptions options;
  Capabilities caps;

  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  VkQueue queue = VK_NULL_HANDLE;
  std::mutex queue_mutex;
  VkPhysicalDeviceMemoryProperties memory_properties{};
  uint32_t device_memory_type = 0;
  uint32_t host_memory_type = 0;

  // memory
  std::mutex memory_mutex;
  std::vector<std::unique_ptr<MemoryBlock>> blocks;
  uint64_t bytes_in_use = 0, peak_bytes = 0, bytes_reserved = 0;
  uint64_t host_bytes_reserved = 0;  // HostBuffers
  uint64_t budget = 0;               // ContextOptions::memory_budget_bytes; 0 = no limit
  std::shared_ptr<Allocation> allocate(uint64_t bytes);
  void release(Allocation& a);
  // With memory_mutex held: frees the pool's empty blocks; returns the bytes given back.
  uint64_t free_empty_blocks();
  // With memory_mutex held: throws the out-of-memory GpuError if `bytes` more would go over
  // the budget (after giving the empty blocks back).
  void check_budget(uint64_t bytes, const std::string& what);
  // The out-of-memory GpuError for `bytes` of `what` (a budget refusal or the driver's `r`).
  // With `memory_type` (a refusal by the driver), it also names the size of that type's heap.
  [[noreturn]] void throw_out_of_memory(uint64_t bytes, const std::string& what, const char* call, VkResult r,
                                        int memory_type = -1);

  // device loss (real or injected through Context::inject_fault / $SMOLVK_FAULT)
  std::atomic<bool> lost{false};
  std::atomic<int64_t> submits_until_fault{0};  // 0 = no fault armed
  bool fault_from_env = false;
  void check_alive(const char* what) const;  // throws the device-lost GpuError once lost
  void mark_lost_if(VkResult r) {
    if (r == VK_ERROR_DEVICE_LOST) lost = true;
  }

  // transfers
  VkCommandPool command_pool = VK_NULL_HANDLE;
  VkCommandBuffer transfer_cmd = VK_NULL_HANDLE;
  VkFence transfer_fence = VK_NULL_HANDLE;
  // The second half of a pipelined upload (Context::upload of pieces); the first uses the above.
  VkCommandBuffer transfer_cmd2 = VK_NULL_HANDLE;
  VkFence transfer_fence2 = VK_NULL_HANDLE;
  // Transfers submitted and not yet waited for (Context::upload_async), per half: the staging
  // half and its command buffer are free again once settle_transfers() has waited for them.
  bool transfer_busy[2] = {false, false};
  int transfer_half = 0;  // the half (and command buffer, fence) the next upload fills first
  void settle_transfers();  // with transfer_mutex held
  std::unique_ptr<HostBuffer> staging;
  // Bound to every descriptor slot a dispatch leaves empty, so shaders whose optional
  // bindings are unused (e.g. no bias) still see a valid descriptor.
  std::shared_ptr<Allocation> dummy;
  std::mutex transfer_mutex;
  std::unique_ptr<HostBuffer> make_host_buffer(uint64_t bytes);
  void ensure_staging();
  void submit(VkCommandBuffer cmd, VkFence fence);
  void wait(VkFence fence);
  void submit_and_wait(VkCommandBuffer cmd, VkFence fence) {
    submit(cmd, fence);
    wait(fence);
  }

  // pipelines
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout = VK_NULL_HANDLE;
  VkPipelineCache pipeline_cache = VK_NULL_HANDLE;
  bool creation_feedback = false;
  PipelineCacheStats cache_stats;
  bool cache_dirty = false;
  // SMOLVK_LOG_PIPELINES=1: each pipeline the driver compiles, with its milliseconds, on stderr.
  bool log_pipelines = false;
  // With it, where VK_KHR_pipeline_executable_properties is offered: the driver's statistics.
  bool executable_stats = false;
  PFN_vkGetPipelineExecutablePropertiesKHR get_executables = nullptr;
  PFN_vkGetPipelineExecutableStatisticsKHR get_executable_stats = nullptr;
  void log_executable_stats(VkPipeline p, const std::string& key);
  std::mutex pipeline_mutex;
  std::map<std::string, VkShaderModule> modules;
  std::map<std::string, VkPipeline> pipelines;
  VkPipeline pipeline(const std::string& shader, std::span<const uint32_t> spec);
  // Creates those of `list` (shader, specialization constants) not created yet, on several
  // threads: a program's pipelines compile side by side on an empty cache.
  void prepare_pipelines(const std::vector<std::pair<std::string, std::vector<uint32_t>>>& list);
  void load_pipeline_cache();
  void save_pipeline_cache();

  // validation
  std::mutex validation_mutex;
  std::vector<std::string> validation_messages;

  static VkBuffer vk_buffer(const Buffer& b) { return b.allocation()->block->buffer; }
  static uint64_t vk_offset(const Buffer& b) { return b.allocation()->offset; }

  ~Impl();
};

// "device_lost_after:N" → N (≥ 1); anything else is a GpuError naming `source` and the forms.
uint32_t parse_fault_spec(const std::string& spec, const std::string& source);
// "123", "512K", "64M", "2G" (powers of 1024) → bytes; anything else is a GpuError naming `source`.
uint64_t parse_byte_count(const std::string& text, const std::string& source);

// Instance / device selection (instance.cpp).
VkInstance create_instance(bool validation, bool* debug_utils, const std::vector<std::string>& extra_extensions = {});
Capabilities probe_device(VkInstance instance, VkPhysicalDevice device, uint32_t index, const ContextOptions& options);
uint32_t choose_device(const std::vector<Capabilities>& devices, const std::string& selector);

}  // namespace smolvk
