#pragma once
// Internal to runtime/: VkResult → GpuError.
#include <vulkan/vulkan.h>

#include "runtime/error.h"

namespace smolvk {
const char* vk_result_name(VkResult r);
[[noreturn]] void throw_vk_error(const char* call, VkResult r);
}  // namespace smolvk

#define VK_CHECK(call)                                                                     \
  do {                                                                                     \
    VkResult vk_check_result_ = (call);                                                    \
    if (vk_check_result_ != VK_SUCCESS) ::smolvk::throw_vk_error(#call, vk_check_result_); \
  } while (0)
