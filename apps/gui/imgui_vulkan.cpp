#include "apps/gui/imgui_vulkan.h"

#include <imgui.h>
#include <imgui_impl_vulkan.h>

#include <string>

namespace smolvk::gui {
namespace {
void check_backend(VkResult r) {
  if (r < 0) throw GpuError("Dear ImGui's Vulkan backend: VkResult " + std::to_string(int(r)));
}
}  // namespace

void vk_ok(VkResult r, const char* what) {
  if (r < 0) throw GpuError(std::string(what) + " failed with VkResult " + std::to_string(int(r)));
}

uint32_t find_memory_type(VkPhysicalDevice pd, uint32_t bits, VkMemoryPropertyFlags want) {
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(pd, &mp);
  for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
    if ((bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want) return i;
  throw GpuError("no Vulkan memory type with properties " + std::to_string(want) + " for the GUI");
}

ImguiVulkan::ImguiVulkan(Context& ctx, VkRenderPass render_pass, uint32_t image_count)
    : ctx_(ctx), h_(present_handles(ctx)), render_pass_(render_pass), image_count_(image_count) {
  // The backend allocates one descriptor set (the font atlas) per init.
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 4};
  VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pci.maxSets = 4;
  pci.poolSizeCount = 1;
  pci.pPoolSizes = &size;
  vk_ok(vkCreateDescriptorPool(h_.device, &pci, nullptr, &pool_), "vkCreateDescriptorPool");
  VkCommandPoolCreateInfo cpi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  cpi.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  cpi.queueFamilyIndex = h_.queue_family;
  vk_ok(vkCreateCommandPool(h_.device, &cpi, nullptr, &cmd_pool_), "vkCreateCommandPool");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  vk_ok(vkCreateFence(h_.device, &fci, nullptr, &fence_), "vkCreateFence");
  upload_fonts();
}

ImguiVulkan::~ImguiVulkan() {
  {
    auto lock = lock_queue(ctx_);
    vkQueueWaitIdle(h_.queue);
  }
  if (backend_) ImGui_ImplVulkan_Shutdown();
  vkDestroyFence(h_.device, fence_, nullptr);
  vkDestroyCommandPool(h_.device, cmd_pool_, nullptr);
  vkDestroyDescriptorPool(h_.device, pool_, nullptr);
}

void ImguiVulkan::init_backend() {
  ImGui_ImplVulkan_InitInfo info{};
  info.Instance = h_.instance;
  info.PhysicalDevice = h_.physical;
  info.Device = h_.device;
  info.QueueFamily = h_.queue_family;
  info.Queue = h_.queue;
  info.DescriptorPool = pool_;
  info.MinImageCount = image_count_;
  info.ImageCount = image_count_;
  info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
  info.CheckVkResultFn = check_backend;
  if (!ImGui_ImplVulkan_Init(&info, render_pass_)) throw GpuError("ImGui_ImplVulkan_Init failed");
  backend_ = true;
}

void ImguiVulkan::upload_fonts() {
  // The 1.86 backend cannot replace its font texture in place: shut it down (freeing its
  // image, pipeline and buffers), free its descriptor set with the pool, start it again.
  if (backend_) {
    {
      auto lock = lock_queue(ctx_);  // frames in flight still use the old atlas
      vk_ok(vkQueueWaitIdle(h_.queue), "vkQueueWaitIdle");
    }
    ImGui_ImplVulkan_Shutdown();
    backend_ = false;
    vk_ok(vkResetDescriptorPool(h_.device, pool_, 0), "vkResetDescriptorPool");
  }
  init_backend();
  submit_once([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
  ImGui_ImplVulkan_DestroyFontUploadObjects();
}

void ImguiVulkan::render(ImDrawData* data, VkCommandBuffer cmd) { ImGui_ImplVulkan_RenderDrawData(data, cmd); }

void ImguiVulkan::submit_once(const std::function<void(VkCommandBuffer)>& record) {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = cmd_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd;
  vk_ok(vkAllocateCommandBuffers(h_.device, &ai, &cmd), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vk_ok(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
  record(cmd);
  vk_ok(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  {
    auto lock = lock_queue(ctx_);
    vk_ok(vkQueueSubmit(h_.queue, 1, &si, fence_), "vkQueueSubmit");
  }
  vk_ok(vkWaitForFences(h_.device, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  vk_ok(vkResetFences(h_.device, 1, &fence_), "vkResetFences");
  vkFreeCommandBuffers(h_.device, cmd_pool_, 1, &cmd);
}

}  // namespace smolvk::gui
