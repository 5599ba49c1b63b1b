#pragma once
// A read-only memory mapping of a whole file (RAII, movable). Addresses into it stay valid
// across moves.
#include <cstddef>
#include <filesystem>
#include <span>

namespace smolvk {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws LoadError naming the path if it cannot be opened or mapped. An empty file maps
  // to an empty span.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release() noexcept;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace smolvk
