#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace smolvk {
// Element types of device tensors. BF16 is stored as uint16 and widened in shaders.
enum class DType : uint8_t { F32, F16, BF16, I32, U32, U8 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::U8:
      return 1;
    default:
      return 4;
  }
}
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    case DType::I32:
      return "i32";
    case DType::U32:
      return "u32";
    case DType::U8:
      return "u8";
  }
  return "?";
}
}  // namespace smolvk
