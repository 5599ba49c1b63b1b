#pragma once
// What presentation (apps/gui) needs from a Context: its raw Vulkan handles and the lock of
// the queue it shares with compute. Compute stays behind Context; only code that draws
// (apps/gui) includes this header. Create the Context with ContextOptions::graphics_queue
// and, for a window, the surface / swapchain extensions in instance_ / device_extensions.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <mutex>

#include "runtime/context.h"

namespace smolvk {

struct PresentHandles {
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  VkQueue queue = VK_NULL_HANDLE;
};

// GpuError when the context's queue family cannot do graphics.
PresentHandles present_handles(Context& ctx);

// Vulkan requires external synchronisation of a queue: hold this around every
// vkQueueSubmit / vkQueuePresentKHR / vkQueueWaitIdle on PresentHandles::queue, since a
// worker thread may be submitting compute to it at the same time.
std::unique_lock<std::mutex> lock_queue(Context& ctx);

}  // namespace smolvk
