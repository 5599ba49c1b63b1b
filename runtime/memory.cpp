// Device memory: large blocks, each one VkDeviceMemory + one VkBuffer, sub-allocated
// first-fit with coalescing. A Buffer is an (offset, size) range of a block.
#include <algorithm>

#include "runtime/context_impl.h"

namespace smolvk {
namespace {
constexpr uint64_t kBlockBytes = 256ull << 20;
// Empty blocks kept for reuse, so per-request arenas (vision batches, prefill) do not pay for
// vkAllocateMemory / vkFreeMemory of hundreds of MiB every call.
constexpr uint64_t kKeepEmptyBytes = 1ull << 30;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
}  // namespace

uint64_t Buffer::size() const { return alloc_ ? alloc_->size : 0; }

Allocation::~Allocation() {
  if (owner) owner->release(*this);
}

std::shared_ptr<Allocation> Context::Impl::allocate(uint64_t bytes) {
  if (bytes == 0) bytes = 4;
  const uint64_t alignment = std::max<uint64_t>(256, caps.min_storage_buffer_offset_alignment);
  const uint64_t need = align_up(bytes, alignment);
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

  uint64_t block_size = std::max(need, kBlockBytes);
  if (caps.max_memory_allocation_size) block_size = std::min(block_size, caps.max_memory_allocation_size);
  if (caps.max_buffer_size) block_size = std::min(block_size, caps.max_buffer_size);
  if (block_size < need)
    throw GpuError("a tensor of " + std::to_string(bytes) + " bytes exceeds the device's largest "
                   "allocation (" + std::to_string(block_size) + " bytes)");

  auto block = std::make_unique<MemoryBlock>();
  block->size = block_size;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = block_size;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
              VK_BUFFER_USAGE_TRANSFER_DST_BIT;
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
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
    // Give the kept empty blocks back and try once more.
    for (auto it = blocks.begin(); it != blocks.end();) {
      if ((*it)->used) { ++it; continue; }
      if ((*it)->mapped) vkUnmapMemory(device, (*it)->memory);
      vkDestroyBuffer(device, (*it)->buffer, nullptr);
      vkFreeMemory(device, (*it)->memory, nullptr);
      bytes_reserved -= (*it)->size;
      it = blocks.erase(it);
    }
    r = vkAllocateMemory(device, &mai, nullptr, &block->memory);
  }
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(device, block->buffer, nullptr);
    throw_vk_error("vkAllocateMemory", r);
  }
  VK_CHECK(vkBindBufferMemory(device, block->buffer, block->memory, 0));
  const auto flags = memory_properties.memoryTypes[type].propertyFlags;
  if ((flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) {
    void* p = nullptr;
    VK_CHECK(vkMapMemory(device, block->memory, 0, VK_WHOLE_SIZE, 0, &p));
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

}  // namespace smolvk
