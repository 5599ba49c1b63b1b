#include "apps/gui/offscreen_target.h"

#include <imgui.h>

#include <cstring>
#include <stdexcept>

#include <stb/stb_image_write.h>

namespace smolvk::gui {

OffscreenTarget::OffscreenTarget(Context& ctx, int width, int height)
    : ctx_(ctx), h_(present_handles(ctx)), width_(width), height_(height) {
  VkDevice dev = h_.device;
  const VkFormat format = VK_FORMAT_R8G8B8A8_UNORM;
  VkImageCreateInfo ii{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
  ii.imageType = VK_IMAGE_TYPE_2D;
  ii.format = format;
  ii.extent = {uint32_t(width), uint32_t(height), 1};
  ii.mipLevels = 1;
  ii.arrayLayers = 1;
  ii.samples = VK_SAMPLE_COUNT_1_BIT;
  ii.tiling = VK_IMAGE_TILING_OPTIMAL;
  ii.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
  vk_ok(vkCreateImage(dev, &ii, nullptr, &image_), "vkCreateImage (offscreen target)");
  VkMemoryRequirements req;
  vkGetImageMemoryRequirements(dev, image_, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = find_memory_type(h_.physical, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  vk_ok(vkAllocateMemory(dev, &ai, nullptr, &image_memory_), "vkAllocateMemory (offscreen target)");
  vk_ok(vkBindImageMemory(dev, image_, image_memory_, 0), "vkBindImageMemory");
  VkImageViewCreateInfo vi{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
  vi.image = image_;
  vi.viewType = VK_IMAGE_VIEW_TYPE_2D;
  vi.format = format;
  vi.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  vk_ok(vkCreateImageView(dev, &vi, nullptr, &view_), "vkCreateImageView");

  VkAttachmentDescription att{};
  att.format = format;
  att.samples = VK_SAMPLE_COUNT_1_BIT;
  att.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
  att.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
  att.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
  att.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
  att.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  att.finalLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
  VkSubpassDescription sub{};
  sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  sub.colorAttachmentCount = 1;
  sub.pColorAttachments = &ref;
  VkSubpassDependency deps[2]{};
  // The previous frame's copy reads the image before this frame clears it.
  deps[0].srcSubpass = VK_SUBPASS_EXTERNAL;
  deps[0].dstSubpass = 0;
  deps[0].srcStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
  deps[0].dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  deps[0].srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
  deps[0].dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  deps[1].srcSubpass = 0;
  deps[1].dstSubpass = VK_SUBPASS_EXTERNAL;
  deps[1].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  deps[1].dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
  deps[1].srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  deps[1].dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
  VkRenderPassCreateInfo rpi{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
  rpi.attachmentCount = 1;
  rpi.pAttachments = &att;
  rpi.subpassCount = 1;
  rpi.pSubpasses = &sub;
  rpi.dependencyCount = 2;
  rpi.pDependencies = deps;
  vk_ok(vkCreateRenderPass(dev, &rpi, nullptr, &render_pass_), "vkCreateRenderPass");
  VkFramebufferCreateInfo fi{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
  fi.renderPass = render_pass_;
  fi.attachmentCount = 1;
  fi.pAttachments = &view_;
  fi.width = uint32_t(width);
  fi.height = uint32_t(height);
  fi.layers = 1;
  vk_ok(vkCreateFramebuffer(dev, &fi, nullptr, &framebuffer_), "vkCreateFramebuffer");

  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = VkDeviceSize(width) * height * 4;
  bi.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  vk_ok(vkCreateBuffer(dev, &bi, nullptr, &readback_), "vkCreateBuffer (readback)");
  vkGetBufferMemoryRequirements(dev, readback_, &req);
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = find_memory_type(h_.physical, req.memoryTypeBits,
                                        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  vk_ok(vkAllocateMemory(dev, &ai, nullptr, &readback_memory_), "vkAllocateMemory (readback)");
  vk_ok(vkBindBufferMemory(dev, readback_, readback_memory_, 0), "vkBindBufferMemory");
  vk_ok(vkMapMemory(dev, readback_memory_, 0, VK_WHOLE_SIZE, 0, &readback_map_), "vkMapMemory");

  VkCommandPoolCreateInfo cpi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  cpi.queueFamilyIndex = h_.queue_family;
  vk_ok(vkCreateCommandPool(dev, &cpi, nullptr, &pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cai.commandPool = pool_;
  cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cai.commandBufferCount = 1;
  vk_ok(vkAllocateCommandBuffers(dev, &cai, &cmd_), "vkAllocateCommandBuffers");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  vk_ok(vkCreateFence(dev, &fci, nullptr, &fence_), "vkCreateFence");

  // Each frame is waited for, but the backend wants at least two vertex buffer sets.
  imgui_ = std::make_unique<ImguiVulkan>(ctx, render_pass_, 2);
}

OffscreenTarget::~OffscreenTarget() {
  imgui_.reset();  // waits for the queue
  VkDevice dev = h_.device;
  vkDestroyFence(dev, fence_, nullptr);
  vkDestroyCommandPool(dev, pool_, nullptr);
  vkDestroyBuffer(dev, readback_, nullptr);
  vkFreeMemory(dev, readback_memory_, nullptr);
  vkDestroyFramebuffer(dev, framebuffer_, nullptr);
  vkDestroyRenderPass(dev, render_pass_, nullptr);
  vkDestroyImageView(dev, view_, nullptr);
  vkDestroyImage(dev, image_, nullptr);
  vkFreeMemory(dev, image_memory_, nullptr);
}

void OffscreenTarget::render(bool read_back) {
  VkDevice dev = h_.device;
  vk_ok(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vk_ok(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  VkClearValue clear{};
  clear.color = {{0.08f, 0.08f, 0.10f, 1.0f}};
  VkRenderPassBeginInfo rb{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
  rb.renderPass = render_pass_;
  rb.framebuffer = framebuffer_;
  rb.renderArea.extent = {uint32_t(width_), uint32_t(height_)};
  rb.clearValueCount = 1;
  rb.pClearValues = &clear;
  vkCmdBeginRenderPass(cmd_, &rb, VK_SUBPASS_CONTENTS_INLINE);
  imgui_->render(ImGui::GetDrawData(), cmd_);
  vkCmdEndRenderPass(cmd_);
  if (read_back) {
    VkBufferImageCopy region{};
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {uint32_t(width_), uint32_t(height_), 1};
    vkCmdCopyImageToBuffer(cmd_, image_, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, readback_, 1, &region);
    VkBufferMemoryBarrier to_host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
    to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    to_host.srcQueueFamilyIndex = to_host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_host.buffer = readback_;
    to_host.size = VK_WHOLE_SIZE;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &to_host,
                         0, nullptr);
  }
  vk_ok(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd_;
  {
    auto lock = lock_queue(ctx_);
    vk_ok(vkQueueSubmit(h_.queue, 1, &si, fence_), "vkQueueSubmit (frame)");
  }
  vk_ok(vkWaitForFences(dev, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences (frame)");
  vk_ok(vkResetFences(dev, 1, &fence_), "vkResetFences");
  if (read_back) {
    pixels_.resize(size_t(width_) * height_ * 4);
    std::memcpy(pixels_.data(), readback_map_, pixels_.size());
  }
}

void write_png(const std::filesystem::path& path, int width, int height, const std::vector<uint8_t>& rgba) {
  if (!stbi_write_png(path.string().c_str(), width, height, 4, rgba.data(), width * 4))
    throw std::runtime_error("cannot write the screenshot " + path.string());
}

}  // namespace smolvk::gui
