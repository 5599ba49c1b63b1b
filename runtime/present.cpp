#include "runtime/present.h"

#include <vector>

#include "runtime/context_impl.h"

namespace smolvk {

PresentHandles present_handles(Context& ctx) {
  Context::Impl& I = ctx.impl();
  uint32_t qc = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(I.physical, &qc, nullptr);
  std::vector<VkQueueFamilyProperties> qf(qc);
  vkGetPhysicalDeviceQueueFamilyProperties(I.physical, &qc, qf.data());
  if (I.queue_family >= qc || !(qf[I.queue_family].queueFlags & VK_QUEUE_GRAPHICS_BIT))
    throw GpuError(I.caps.name + ": the context's queue family " + std::to_string(I.queue_family) +
                   " cannot do graphics (create the Context with ContextOptions::graphics_queue)");
  return {I.instance, I.physical, I.device, I.queue_family, I.queue};
}

std::unique_lock<std::mutex> lock_queue(Context& ctx) { return std::unique_lock<std::mutex>(ctx.impl().queue_mutex); }

}  // namespace smolvk
