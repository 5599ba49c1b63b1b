#pragma once
// Errors raised by the runtime. Every failing Vulkan call becomes a GpuError naming the call
// and the VkResult; device loss and out-of-memory are flagged so callers can report them.
#include <stdexcept>
#include <string>

namespace smolvk {

class GpuError : public std::runtime_error {
 public:
  GpuError(std::string call, int result, std::string result_name)
      : std::runtime_error(call + " failed: " + result_name),
        call_(std::move(call)),
        result_(result),
        result_name_(std::move(result_name)) {}
  explicit GpuError(const std::string& message) : std::runtime_error(message), result_(0) {}
  // A message of its own for a failure that still carries a VkResult (out of memory against
  // the budget, a simulated device loss), so device_lost() / out_of_memory() keep working.
  GpuError(const std::string& message, std::string call, int result, std::string result_name)
      : std::runtime_error(message), call_(std::move(call)), result_(result), result_name_(std::move(result_name)) {}
  const std::string& call() const { return call_; }
  int result() const { return result_; }  // the VkResult value
  const std::string& result_name() const { return result_name_; }
  bool device_lost() const { return result_name_ == "VK_ERROR_DEVICE_LOST"; }
  bool out_of_memory() const {
    return result_name_ == "VK_ERROR_OUT_OF_DEVICE_MEMORY" || result_name_ == "VK_ERROR_OUT_OF_HOST_MEMORY";
  }

 private:
  std::string call_;
  int result_;
  std::string result_name_;
};

}  // namespace smolvk
