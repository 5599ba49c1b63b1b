// Device memory: large blocks, each one VkDeviceMemory + one VkBuffer, sub-allocated
// first-fit with coalescing. A Buffer is an (offset, size) range of a block.
//
// The memory budget (ContextOptions::memory_budget_bytes) limits what the context holds from
// the driver: the blocks (used or kept empty) plus the HostBuffers. With a budget, blocks are
// at most budget / 16 (or exactly the request when a full block does not fit any more), and
// the kept empty blocks are given back before an allocation is refused.
#include <algorithm>
#include <cstdio>

#include "runtime/context_impl.h"

namespace smolvk {
namespace {
constexpr uint64_t kBlockBytes = 256ull << 20;
// Empty blocks kept for reuse, so per-request arenas (vision batches, prefill) do not pay for
// vkAllocateMemory / vkFreeMemory of hundreds of MiB every call.
constexpr uint64_t kKeepEmptyBytes = 1ull << 30;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// "21004288 bytes (20.0 MiB)"
std::string bytes_text(uint64_t b) {
  char mib[48];
  std::snprintf(mib, sizeof mib, " (%.1f MiB)", double(b) / double(1ull << 20));
  return std::to_string(b) + " bytes" + mib;
}
}  // namespace

uint64_t Context::Impl::free_empty_blocks() {
  uint64_t freed = 0;
  for (auto it = blocks.begin(); it != blocks.end();) {
    if ((*it)->used) {
      ++it;
      continue;
    }
    if ((*it)->mapped) vkUnmapMemory(device, (*it)->memory);
    vkDestroyBuffer(device, (*it)->buffer, nullptr);
    vkFreeMemory(device, (*it)->memory, nullptr);
    bytes_reserved -= (*it)->size;
    freed += (*it)->size;
    it = blocks.erase(it);
  }
  return freed;
}

void Context::Impl::throw_out_of_memory(uint64_t bytes, const std::string& what, const char* call, VkResult r,
                                        int memory_type) {
  const std::string held = bytes_text(bytes_reserved + host_bytes_reserved) + " are held from the driver (" +
                           bytes_text(bytes_in_use) + " in live buffers)";
  std::string msg = "out of device memory: " + what + " needs " + bytes_text(bytes);
  std::string heap;  // what the device has where the allocation was asked for
  if (memory_type >= 0 && uint32_t(memory_type) < memory_properties.memoryTypeCount) {
    const uint32_t h = memory_properties.memoryTypes[memory_type].heapIndex;
    heap = "the device has " + bytes_text(memory_properties.memoryHeaps[h].size) + " in memory heap " +
           std::to_string(h) +
           (memory_properties.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT ? " (device-local)" : "") + "; ";
  }
  if (call)
    msg += ", but " + std::string(call) + " reported " + vk_result_name(r) + "; " + heap + held +
           (budget ? ", memory budget " + bytes_text(budget) : std::string(", no memory budget set"));
  else
    msg += " more, over the memory budget of " + bytes_text(budget) + ": " + held;
  throw GpuError(msg, call ? call : "memory budget", int(r), vk_result_name(r));
}

void Context::Impl::check_budget(uint64_t bytes, const std::string& what) {
  if (!budget || bytes_reserved + host_bytes_reserved + bytes <= budget) return;
  free_empty_blocks();
  if (bytes_reserved + host_bytes_reserved + bytes <= budget) return;
  throw_out_of_memory(bytes, what, nullptr, VK_ERROR_OUT_OF_DEVICE_MEMORY);
}

uint64_t Buffer::size() const { return alloc_ ? alloc_->size : 0; }

Allocation::~Allocation() {
  if (owner) owner->release(*this);
}

std::shared_ptr<Allocation> Context::Impl::allocate(uint64_t bytes) {
  if (bytes == 0) bytes = 4;
  const uint64_t alignment = std::max<uint64_t>(256, caps.min_storage_buffer_offset_alignment);
  const uint64_t need = align_up(bytes, alignment);
  check_alive("allocating device memory");
  std::lock_guard lock(memory_mutex);

  auto take = [&](MemoryBlock& b) -> std::shared_ptr<Allocation> {
    for (auto it = b.free_ranges.begin(); it != b.free_ranges.end(); ++it) {
      if (it->second < need) continue;
      uint64_t off = it->first, len = it->second;
      b.free_ranges.erase(it);
      if (len > need) b.free_ranges[off + need] = len - need;
      b.used += need;
      auto a = std::make_shared<Allocation>();
      a->owner = this;
      a->block = &b;
      a->offset = off;
      a->size = (bytes + 3) & ~uint64_t{3};  // whole 32-bit words: shaders read 16-bit data as words
      a->reserved = need;
      bytes_in_use += need;
      peak_bytes = std::max(peak_bytes, bytes_in_use);
      return a;
    }
    return nullptr;
  };
  for (auto& b : blocks)
    if (auto a = take(*b)) return a;

  const std::string what = "a device buffer of " + std::to_string(bytes) + " bytes";
  uint64_t block_size = std::max(need, kBlockBytes);
  if (budget) block_size = std::max(need, align_up(std::min(kBlockBytes, budget / 16), alignment));
  uint64_t largest = UINT64_MAX;
  if (caps.max_memory_allocation_size) largest = std::min(largest, caps.max_memory_allocation_size);
  if (caps.max_buffer_size) largest = std::min(largest, caps.max_buffer_size);
  block_size = std::min(block_size, largest);
  if (block_size < need)
    throw GpuError("out of device memory: " + what + " needs " + bytes_text(need) +
                       ", more than the device's largest allocation of " + bytes_text(largest),
                   "vkAllocateMemory", int(VK_ERROR_OUT_OF_DEVICE_MEMORY), "VK_ERROR_OUT_OF_DEVICE_MEMORY");
  if (budget && bytes_reserved + host_bytes_reserved + block_size > budget) {
    free_empty_blocks();
    const uint64_t counted = bytes_reserved + host_bytes_reserved;
    const uint64_t left = counted < budget ? (budget - counted) / alignment * alignment : 0;
    block_size = std::max(need, std::min(block_size, left));
    check_budget(block_size, what);
  }

  auto block = std::make_unique<MemoryBlock>();
  block->size = block_size;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = block_size;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  VK_CHECK(vkCreateBuffer(device, &bci, nullptr, &block->buffer));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, block->buffer, &req);
  uint32_t type = device_memory_type;
  if (!(req.memoryTypeBits & (1u << type))) {
    vkDestroyBuffer(device, block->buffer, nullptr);
    throw GpuError("the device's storage buffers cannot live in its device-local memory type");
  }
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = type;
  VkResult r = vkAllocateMemory(device, &mai, nullptr, &block->memory);
  if ((r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) && free_empty_blocks())
    r = vkAllocateMemory(device, &mai, nullptr, &block->memory);  // with the kept empty blocks given back
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(device, block->buffer, nullptr);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      throw_out_of_memory(req.size, what, "vkAllocateMemory", r, int(type));
    throw_vk_error("vkAllocateMemory", r);
  }
  auto free_block = [&] {
    vkDestroyBuffer(device, block->buffer, nullptr);
    vkFreeMemory(device, block->memory, nullptr);
  };
  if (VkResult b = vkBindBufferMemory(device, block->buffer, block->memory, 0); b != VK_SUCCESS) {
    free_block();
    throw_vk_error("vkBindBufferMemory", b);
  }
  const auto flags = memory_properties.memoryTypes[type].propertyFlags;
  if ((flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) &&
      !options.staged_transfers) {
    void* p = nullptr;
    if (VkResult m = vkMapMemory(device, block->memory, 0, VK_WHOLE_SIZE, 0, &p); m != VK_SUCCESS) {
      free_block();
      throw_vk_error("vkMapMemory", m);
    }
    block->mapped = static_cast<uint8_t*>(p);
  }
  block->free_ranges[0] = block_size;
  bytes_reserved += block_size;
  blocks.push_back(std::move(block));
  return take(*blocks.back());
}

void Context::Impl::release(Allocation& a) {
  std::lock_guard lock(memory_mutex);
  MemoryBlock& b = *a.block;
  auto [it, ok] = b.free_ranges.emplace(a.offset, a.reserved);
  if (auto next = std::next(it); next != b.free_ranges.end() && it->first + it->second == next->first) {
    it->second += next->second;
    b.free_ranges.erase(next);
  }
  if (it != b.free_ranges.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second == it->first) {
      prev->second += it->second;
      b.free_ranges.erase(it);
    }
  }
  b.used -= a.reserved;
  bytes_in_use -= a.reserved;
  if (b.used == 0) {
    uint64_t empty = 0;
    for (const auto& other : blocks)
      if (other.get() != &b && other->used == 0) empty += other->size;
    if (empty + b.size <= kKeepEmptyBytes) return;
    auto pos = std::find_if(blocks.begin(), blocks.end(), [&](auto& p) { return p.get() == &b; });
    if (b.mapped) vkUnmapMemory(device, b.memory);
    vkDestroyBuffer(device, b.buffer, nullptr);
    vkFreeMemory(device, b.memory, nullptr);
    bytes_reserved -= b.size;
    blocks.erase(pos);
  }
}

Buffer Context::create_buffer(uint64_t bytes) { return Buffer(impl_->allocate(bytes)); }
uint64_t Context::device_bytes_in_use() const { return impl_->bytes_in_use; }
uint64_t Context::device_bytes_reserved() const { return impl_->bytes_reserved; }
uint64_t Context::peak_device_bytes() const { return impl_->peak_bytes; }

MemoryStats Context::memory_stats() const {
  std::lock_guard lock(impl_->memory_mutex);
  const Impl& I = *impl_;
  return {I.bytes_in_use, I.bytes_reserved, I.host_bytes_reserved, I.bytes_reserved + I.host_bytes_reserved,
          I.budget,       I.peak_bytes};
}

void Context::set_memory_budget(uint64_t bytes) {
  std::lock_guard lock(impl_->memory_mutex);
  impl_->budget = bytes;
}

}  // namespace smolvk
