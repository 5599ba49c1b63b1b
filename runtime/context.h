#pragma once
// The Vulkan context: instance, chosen device, queue, memory, pipelines, staging.
// Public API hides every Vulkan type; only runtime/*.cpp include vulkan.h.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <map>
#include <string>
#include <vector>

#include "runtime/capabilities.h"
#include "runtime/error.h"

namespace smolvk {

struct ContextOptions {
  // Device selection: "" = best (discrete > integrated > virtual > cpu), else an index or a
  // case-insensitive name substring. Defaults to $SMOLVK_DEVICE.
  std::string device;
  // Enable VK_LAYER_KHRONOS_validation + a debug messenger. Defaults to $SMOLVK_VALIDATION=1.
  bool validation = false;
  // Force every fast path off (the portable shaders). Defaults to $SMOLVK_PORTABLE=1.
  bool portable = false;
  // Clamp the device's limits and features to a real GPU class (runtime/device_profiles.h).
  // Defaults to $SMOLVK_DEVICE_PROFILE.
  std::string profile;
  // Where the pipeline cache lives; "" = $SMOLVK_CACHE_DIR or $XDG_CACHE_HOME/smolvk or
  // ~/.cache/smolvk. "none" disables the on-disk cache.
  std::string cache_dir;
  // Called for each validation message as it arrives (tests turn it into a failure);
  // messages are also kept for take_validation_messages().
  std::function<void(const std::string&)> on_validation_message;
  // Extra extensions to enable, e.g. a GUI's surface / swapchain ones (runtime/present.h);
  // GpuError naming the extension when the driver lacks one.
  std::vector<std::string> instance_extensions, device_extensions;
  // Take a queue family that does graphics as well as compute (a GUI renders on it).
  bool graphics_queue = false;
  // Move data through the staging buffer even where device memory is host-visible (CPU
  // drivers, UMA), as on a discrete GPU: for testing those transfers anywhere.
  bool staged_transfers = false;
  // Kernel-selection overrides for experiments, by name without the prefix (e.g.
  // {"GEMM_BM", 64}); the kernel policy (model/ops/kernel_policy.h) reads them from
  // Capabilities::tuning. Defaults to every $SMOLVK_TUNE_<NAME>=<decimal> in the environment.
  std::map<std::string, uint32_t> tuning;
  // Device memory budget in bytes (0 = no limit). Defaults to $SMOLVK_MEMORY_BUDGET (a decimal
  // byte count with an optional K, M or G suffix, powers of 1024). What counts is the memory the
  // context holds from the driver: the pool's blocks (runtime/memory.cpp; empty ones are kept for
  // reuse, and given back before an allocation is refused) and the host-visible staging,
  // parameter and read-back buffers. Going over throws a GpuError with out_of_memory() true.
  uint64_t memory_budget_bytes = 0;
  // Fault injection for tests, from $SMOLVK_FAULT: "device_lost_after:N" makes the N-th queue
  // submit after the context is created report VK_ERROR_DEVICE_LOST without submitting
  // (see Context::inject_fault). "" = none.
  std::string fault;
  // Everything above filled from the environment.
  static ContextOptions from_env();
};

// Full capability report of every device (options: the portable switch and device profile).
std::vector<Capabilities> list_devices(const ContextOptions& options = ContextOptions::from_env());
// Which of list_devices() a Context would pick for this selector (see ContextOptions::device).
uint32_t choose_device_index(const std::vector<Capabilities>& devices, const std::string& selector);

class Context;
struct Allocation;

// A device buffer: a range of a large memory block. Copyable handle; freed when the last
// copy goes away. Never exposes a VkBuffer. Every Buffer (and so every Model, Program and
// KV cache holding one) must be released before its Context.
class Buffer {
 public:
  Buffer() = default;
  uint64_t size() const;
  bool valid() const { return alloc_ != nullptr; }
  const Allocation* allocation() const { return alloc_.get(); }

 private:
  friend class Context;
  explicit Buffer(std::shared_ptr<Allocation> a) : alloc_(std::move(a)) {}
  std::shared_ptr<Allocation> alloc_;
};

struct PipelineCacheStats {
  std::filesystem::path file;
  uint64_t loaded_bytes = 0;  // bytes read from disk at startup (0 = cold)
  uint32_t pipelines_created = 0;
  uint32_t cache_hits = 0;     // pipelines the driver reported as found in the cache
  bool hit_reporting = false;  // whether the driver reports hits at all
};

// What the memory of a context is doing (bytes).
struct MemoryStats {
  uint64_t in_use = 0;         // handed out to live buffers (aligned sizes)
  uint64_t pool_reserved = 0;  // the pool's blocks held from the driver (in use or kept empty)
  uint64_t host_reserved = 0;  // host-visible staging, parameter and read-back buffers
  uint64_t counted = 0;        // pool_reserved + host_reserved: what the budget limits
  uint64_t budget = 0;         // 0 = no limit
  uint64_t peak_in_use = 0;
};

// Faults a test can inject (Context::inject_fault).
enum class Fault {
  // The next queue submit (or the n-th from now) reports VK_ERROR_DEVICE_LOST without
  // submitting; the context is lost from then on.
  DeviceLostOnNextSubmit,
};

class Context {
 public:
  explicit Context(ContextOptions options = ContextOptions::from_env());
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Capabilities& caps() const;
  const ContextOptions& options() const;

  // Memory. Buffers are sub-allocated out of large blocks. Sizes may exceed
  // maxStorageBufferRange; a single binding may not (ops split such tensors).
  Buffer create_buffer(uint64_t bytes);
  void upload(const Buffer& dst, const void* src, uint64_t bytes, uint64_t dst_offset = 0);
  // Several host ranges into `dst` in one go: staged through the two halves of the staging
  // buffer in turn, so that the host copy into one half overlaps the transfer out of the
  // other, with one submission per half-full of pieces; returns when all have landed.
  struct UploadPiece {
    const void* src = nullptr;
    uint64_t bytes = 0, dst_offset = 0;
  };
  void upload(const Buffer& dst, std::span<const UploadPiece> pieces);
  // Host ranges into one or more buffers as one queued copy (one submission while they fit
  // half the staging buffer). Returns once the bytes are in the staging buffer: work
  // submitted later (one queue) sees them, and the host does not wait for the GPU to wake up
  // and copy. The staging half it used is waited for only when a later transfer needs it
  // (a download, copy or fill waits for all). The sources may be freed on return.
  struct BufferUpload {
    Buffer dst;
    const void* src = nullptr;
    uint64_t bytes = 0, dst_offset = 0;
  };
  void upload_async(std::span<const BufferUpload> uploads);
  void download(const Buffer& src, void* dst, uint64_t bytes, uint64_t src_offset = 0);
  void fill_zero(const Buffer& dst);
  // Device-to-device copies of byte ranges of `src` into `dst` (one submission, waits; the
  // ranges are checked against both buffers and must not overlap within one buffer).
  struct CopyRange {
    uint64_t src_offset = 0, dst_offset = 0, bytes = 0;
  };
  void copy(const Buffer& src, const Buffer& dst, std::span<const CopyRange> ranges);
  uint64_t device_bytes_in_use() const;    // bytes of live buffers
  uint64_t device_bytes_reserved() const;  // bytes of allocated memory blocks
  uint64_t peak_device_bytes() const;
  MemoryStats memory_stats() const;
  // Lower or raise the budget (0 = no limit); it applies to the allocations that follow.
  void set_memory_budget(uint64_t bytes);

  // Device loss. Once a submit has reported VK_ERROR_DEVICE_LOST (a real one or an injected
  // one) every further upload, download, allocation and submit throws a GpuError with
  // device_lost() true ("device lost: create a new Context"); only destruction is left.
  void inject_fault(Fault fault, uint32_t nth_submit_from_now = 1);
  bool device_lost() const;

  // Warm the pipelines for the named shader variants (e.g. at model load).
  void prepare_pipeline(const std::string& shader, std::span<const uint32_t> spec = {});
  PipelineCacheStats pipeline_cache_stats() const;
  void save_pipeline_cache();

  // Validation messages collected since the last call (only with validation on).
  std::vector<std::string> take_validation_messages();

  struct Impl;
  Impl& impl() { return *impl_; }
  const Impl& impl() const { return *impl_; }

 private:
  void upload_many(std::span<const BufferUpload> uploads, bool wait);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smolvk
