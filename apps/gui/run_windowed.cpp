// The desktop window: GLFW + a Vulkan swapchain on the inference Context's device.
#include <cstdio>
#include <imgui.h>
#include <memory>
#include <imgui_impl_glfw.h>
#include <imgui_impl_vulkan.h>

#define GLFW_INCLUDE_NONE
#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>

#include "apps/gui/gui_session.h"

namespace smolvk::gui {
namespace {

void on_glfw_error(int code, const char* message) {
  std::fprintf(stderr, "smolvk-gui: GLFW error %d: %s\n", code, message);
}

void on_drop(GLFWwindow* window, int count, const char** paths) {
  auto* s = static_cast<GuiSession*>(glfwGetWindowUserPointer(window));
  if (!s || count < 1) return;
  s->ui.set_image_field(paths[0]);
  s->app.open_image(paths[0]);
}

struct Glfw {
  Glfw() {
    glfwSetErrorCallback(on_glfw_error);
    if (!glfwInit())
      throw std::runtime_error(
          "cannot open a window (no display? set DISPLAY, run under xvfb-run, "
          "or use --offscreen)");
  }
  ~Glfw() { glfwTerminate(); }
};

// The swapchain and its frames, by Dear ImGui's ImGui_ImplVulkanH helpers.
class Swapchain {
 public:
  Swapchain(Context& ctx, GLFWwindow* window) : ctx_(ctx), h_(present_handles(ctx)), window_(window) {
    vk_ok(glfwCreateWindowSurface(h_.instance, window, nullptr, &wd_.Surface), "glfwCreateWindowSurface");
    VkBool32 ok = VK_FALSE;
    vkGetPhysicalDeviceSurfaceSupportKHR(h_.physical, h_.queue_family, wd_.Surface, &ok);
    if (!ok) throw GpuError(ctx.caps().name + ": its queue family cannot present to this window");
    const VkFormat formats[] = {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM};
    wd_.SurfaceFormat =
        ImGui_ImplVulkanH_SelectSurfaceFormat(h_.physical, wd_.Surface, formats, 2, VK_COLORSPACE_SRGB_NONLINEAR_KHR);
    wd_.PresentMode = VK_PRESENT_MODE_FIFO_KHR;  // always supported; paces frames to the display
    resize();
  }
  ~Swapchain() {
    {
      auto lock = lock_queue(ctx_);
      vkQueueWaitIdle(h_.queue);
    }
    ImGui_ImplVulkanH_DestroyWindow(h_.instance, h_.device, &wd_, nullptr);
  }
  void resize() {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    if (w <= 0 || h <= 0) return;
    auto lock = lock_queue(ctx_);  // the helper waits for the device, compute included
    ImGui_ImplVulkanH_CreateOrResizeWindow(h_.instance, h_.physical, h_.device, &wd_, h_.queue_family, nullptr, w, h,
                                           kMinImages);
    wd_.FrameIndex = 0;
    stale_ = false;
  }
  bool stale() const { return stale_; }
  VkRenderPass render_pass() const { return wd_.RenderPass; }
  uint32_t image_count() const { return wd_.ImageCount; }

  void draw(ImguiVulkan& imgui) {
    VkSemaphore acquired = wd_.FrameSemaphores[wd_.SemaphoreIndex].ImageAcquiredSemaphore;
    VkSemaphore complete = wd_.FrameSemaphores[wd_.SemaphoreIndex].RenderCompleteSemaphore;
    VkResult r = vkAcquireNextImageKHR(h_.device, wd_.Swapchain, UINT64_MAX, acquired, VK_NULL_HANDLE, &wd_.FrameIndex);
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) {
      stale_ = true;
      if (r == VK_ERROR_OUT_OF_DATE_KHR) return;
    } else {
      vk_ok(r, "vkAcquireNextImageKHR");
    }
    ImGui_ImplVulkanH_Frame& fd = wd_.Frames[wd_.FrameIndex];
    vk_ok(vkWaitForFences(h_.device, 1, &fd.Fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    vk_ok(vkResetFences(h_.device, 1, &fd.Fence), "vkResetFences");
    vk_ok(vkResetCommandPool(h_.device, fd.CommandPool, 0), "vkResetCommandPool");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_ok(vkBeginCommandBuffer(fd.CommandBuffer, &bi), "vkBeginCommandBuffer");
    VkClearValue clear{};
    clear.color = {{0.08f, 0.08f, 0.10f, 1.0f}};
    VkRenderPassBeginInfo rb{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    rb.renderPass = wd_.RenderPass;
    rb.framebuffer = fd.Framebuffer;
    rb.renderArea.extent = {uint32_t(wd_.Width), uint32_t(wd_.Height)};
    rb.clearValueCount = 1;
    rb.pClearValues = &clear;
    vkCmdBeginRenderPass(fd.CommandBuffer, &rb, VK_SUBPASS_CONTENTS_INLINE);
    imgui.render(ImGui::GetDrawData(), fd.CommandBuffer);
    vkCmdEndRenderPass(fd.CommandBuffer);
    vk_ok(vkEndCommandBuffer(fd.CommandBuffer), "vkEndCommandBuffer");
    VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.waitSemaphoreCount = 1;
    si.pWaitSemaphores = &acquired;
    si.pWaitDstStageMask = &wait_stage;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &fd.CommandBuffer;
    si.signalSemaphoreCount = 1;
    si.pSignalSemaphores = &complete;
    VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    pi.waitSemaphoreCount = 1;
    pi.pWaitSemaphores = &complete;
    pi.swapchainCount = 1;
    pi.pSwapchains = &wd_.Swapchain;
    pi.pImageIndices = &wd_.FrameIndex;
    {
      auto lock = lock_queue(ctx_);
      vk_ok(vkQueueSubmit(h_.queue, 1, &si, fd.Fence), "vkQueueSubmit (frame)");
      r = vkQueuePresentKHR(h_.queue, &pi);
    }
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR)
      stale_ = true;
    else
      vk_ok(r, "vkQueuePresentKHR");
    wd_.SemaphoreIndex = (wd_.SemaphoreIndex + 1) % wd_.ImageCount;
  }

 private:
  static constexpr uint32_t kMinImages = 2;
  Context& ctx_;
  PresentHandles h_;
  GLFWwindow* window_;
  ImGui_ImplVulkanH_Window wd_;
  bool stale_ = false;
};

}  // namespace

int run_windowed(const GuiOptions& options, std::optional<std::vector<ScriptStep>> script) {
  Glfw glfw;
  if (!glfwVulkanSupported()) throw std::runtime_error("GLFW finds no Vulkan loader for windows");
  glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
  GLFWwindow* window = glfwCreateWindow(options.width, options.height, "smolvk", nullptr, nullptr);
  if (!window) throw std::runtime_error("glfwCreateWindow failed (see the GLFW error above)");
  ValidationLog validation;
  ContextOptions copts = validation.context_options();
  uint32_t n = 0;
  const char** exts = glfwGetRequiredInstanceExtensions(&n);
  for (uint32_t i = 0; i < n; ++i) copts.instance_extensions.push_back(exts[i]);
  copts.device_extensions.push_back(VK_KHR_SWAPCHAIN_EXTENSION_NAME);
  ContextFactory make_context = [copts] { return std::make_shared<Context>(copts); };
  int rc = 0;
  {
    std::shared_ptr<Context> ctx = make_context();
    auto ui_ctx = make_ui_context(options, *ctx, copts);
    ImguiContext imgui_context;
    GuiSession session(std::move(ctx), make_context, options, std::move(script));
    session.validation = &validation;
    session.ui_device = ui_ctx ? "own" : "shared";
    DrawContext draw(std::move(ui_ctx), session.app);
    ImGui_ImplGlfw_InitForVulkan(window, true);
    glfwSetWindowUserPointer(window, &session);
    glfwSetDropCallback(window, on_drop);
    {
      // Declared in this order so that ImGui's backend goes before the swapchain it draws into.
      std::unique_ptr<Swapchain> swapchain;
      std::unique_ptr<ImguiVulkan> imgui;
      auto build = [&] {
        imgui.reset();
        swapchain.reset();
        draw.adopt();
        swapchain = std::make_unique<Swapchain>(draw.get(), window);
        imgui = std::make_unique<ImguiVulkan>(draw.get(), swapchain->render_pass(), swapchain->image_count());
      };
      build();
      while (!glfwWindowShouldClose(window) && !session.script_finished()) {
        glfwPollEvents();
        if (draw.changed()) build();  // a reload made a new compute Context, which the frames share
        if (swapchain->stale()) swapchain->resize();
        ImGui_ImplGlfw_NewFrame();
        auto req = session.build_frame(*imgui);
        if (req.screenshot) session.app.add_error("screenshot needs --offscreen; skipped " + req.screenshot->string());
        int w = 0, h = 0;
        glfwGetFramebufferSize(window, &w, &h);
        if (w > 0 && h > 0) swapchain->draw(*imgui);
        session.frame_done(req);
      }
      rc = session.finish();
    }
    ImGui_ImplGlfw_Shutdown();
  }
  glfwDestroyWindow(window);
  return rc;
}

}  // namespace smolvk::gui
