#pragma once
// Dear ImGui's Vulkan backend on the inference Context's device and queue: init, font
// atlas upload (again whenever the image preview in it changes), one-shot submissions.
#include <vulkan/vulkan.h>

#include <functional>

#include "runtime/context.h"
#include "runtime/present.h"

struct ImDrawData;

namespace smolvk::gui {

// Throws GpuError naming `what` when `r` is an error.
void vk_ok(VkResult r, const char* what);
uint32_t find_memory_type(VkPhysicalDevice pd, uint32_t bits, VkMemoryPropertyFlags want);

class ImguiVulkan {
 public:
  // `render_pass` draws into the target; `image_count` frames may be in flight.
  ImguiVulkan(Context& ctx, VkRenderPass render_pass, uint32_t image_count);
  ~ImguiVulkan();
  ImguiVulkan(const ImguiVulkan&) = delete;
  ImguiVulkan& operator=(const ImguiVulkan&) = delete;

  // (Re)creates the backend's device objects and uploads the font atlas. The GPU must be
  // done with earlier frames.
  void upload_fonts();
  void render(ImDrawData* data, VkCommandBuffer cmd);
  // Records with `record` into a fresh command buffer, submits (queue locked) and waits.
  void submit_once(const std::function<void(VkCommandBuffer)>& record);

  const PresentHandles& handles() const { return h_; }
  Context& context() { return ctx_; }

 private:
  void init_backend();
  Context& ctx_;
  PresentHandles h_;
  VkRenderPass render_pass_;
  uint32_t image_count_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkCommandPool cmd_pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  bool backend_ = false;
};

}  // namespace smolvk::gui
