#pragma once
// Frames without a window or swapchain: ImGui renders into an RGBA8 image, which is read
// back when a screenshot is asked for.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "apps/gui/imgui_vulkan.h"

namespace smolvk::gui {

class OffscreenTarget {
 public:
  OffscreenTarget(Context& ctx, int width, int height);
  ~OffscreenTarget();
  OffscreenTarget(const OffscreenTarget&) = delete;
  OffscreenTarget& operator=(const OffscreenTarget&) = delete;

  ImguiVulkan& imgui() { return *imgui_; }
  // Renders ImGui's current draw data and waits for it; with `read_back`, the pixels
  // (RGBA, rows top to bottom) land in pixels().
  void render(bool read_back);
  const std::vector<uint8_t>& pixels() const { return pixels_; }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  Context& ctx_;
  PresentHandles h_;
  int width_, height_;
  VkImage image_ = VK_NULL_HANDLE;
  VkDeviceMemory image_memory_ = VK_NULL_HANDLE;
  VkImageView view_ = VK_NULL_HANDLE;
  VkRenderPass render_pass_ = VK_NULL_HANDLE;
  VkFramebuffer framebuffer_ = VK_NULL_HANDLE;
  VkBuffer readback_ = VK_NULL_HANDLE;
  VkDeviceMemory readback_memory_ = VK_NULL_HANDLE;
  void* readback_map_ = nullptr;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  std::unique_ptr<ImguiVulkan> imgui_;
  std::vector<uint8_t> pixels_;
};

// Writes RGBA pixels as PNG (stb); std::runtime_error naming the file when it cannot.
void write_png(const std::filesystem::path& path, int width, int height, const std::vector<uint8_t>& rgba);

}  // namespace smolvk::gui
