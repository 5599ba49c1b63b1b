#include "runtime/vk_check.h"

#include <string>

namespace smolvk {

const char* vk_result_name(VkResult r) {
  switch (r) {
#define NAME(x) \
  case x:       \
    return #x;
    NAME(VK_SUCCESS)
    NAME(VK_NOT_READY) NAME(VK_TIMEOUT) NAME(VK_EVENT_SET) NAME(VK_EVENT_RESET) NAME(VK_INCOMPLETE)
        NAME(VK_ERROR_OUT_OF_HOST_MEMORY) NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY) NAME(VK_ERROR_INITIALIZATION_FAILED)
            NAME(VK_ERROR_DEVICE_LOST) NAME(VK_ERROR_MEMORY_MAP_FAILED) NAME(VK_ERROR_LAYER_NOT_PRESENT)
                NAME(VK_ERROR_EXTENSION_NOT_PRESENT) NAME(VK_ERROR_FEATURE_NOT_PRESENT)
                    NAME(VK_ERROR_INCOMPATIBLE_DRIVER) NAME(VK_ERROR_TOO_MANY_OBJECTS)
                        NAME(VK_ERROR_FORMAT_NOT_SUPPORTED) NAME(VK_ERROR_FRAGMENTED_POOL) NAME(VK_ERROR_UNKNOWN)
                            NAME(VK_ERROR_OUT_OF_POOL_MEMORY) NAME(VK_ERROR_INVALID_EXTERNAL_HANDLE)
                                NAME(VK_ERROR_FRAGMENTATION) NAME(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
                                    NAME(VK_PIPELINE_COMPILE_REQUIRED) NAME(VK_ERROR_SURFACE_LOST_KHR)
                                        NAME(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR) NAME(VK_SUBOPTIMAL_KHR)
                                            NAME(VK_ERROR_OUT_OF_DATE_KHR) NAME(VK_ERROR_VALIDATION_FAILED_EXT)
                                                NAME(VK_ERROR_INVALID_SHADER_NV)
#undef NAME
                                                    default : return "VK_RESULT_UNKNOWN";
  }
}

void throw_vk_error(const char* call, VkResult r) {
  std::string name = vk_result_name(r);
  if (name == "VK_RESULT_UNKNOWN") name += "(" + std::to_string(int(r)) + ")";
  throw GpuError(call, int(r), name);
}

}  // namespace smolvk
