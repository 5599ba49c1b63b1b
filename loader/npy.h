#pragma once
// NumPy .npy files (format versions 1–3, C order, little-endian): '<f4', '<i4', '<i8',
// '|u1', '|b1'. Used for golden tensors and for dumping logits.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace smolvk {

enum class NpyDType { F32, I32, I64, U8, Bool };

struct NpyArray {
  NpyDType dtype = NpyDType::F32;
  std::vector<int64_t> shape;
  std::vector<float> floats;  // filled for F32
  std::vector<int64_t> ints;  // filled for I32, I64, U8, Bool
  size_t numel() const;
  bool is_float() const { return dtype == NpyDType::F32; }
};

NpyArray read_npy(const std::filesystem::path& path);
// `source` names the data in errors.
NpyArray parse_npy(std::span<const std::byte> bytes, const std::string& source);

// Writes a version-1 .npy. std::invalid_argument if numel(shape) != data.size(),
// std::runtime_error naming the path if it cannot be written.
void write_npy(const std::filesystem::path& path, std::span<const float> data, std::span<const int64_t> shape);
void write_npy(const std::filesystem::path& path, std::span<const int32_t> data, std::span<const int64_t> shape);
void write_npy(const std::filesystem::path& path, std::span<const int64_t> data, std::span<const int64_t> shape);
void write_npy(const std::filesystem::path& path, std::span<const uint8_t> data, std::span<const int64_t> shape);

}  // namespace smolvk
