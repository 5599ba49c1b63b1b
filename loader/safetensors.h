#pragma once
// Memory-mapped, validated safetensors checkpoints: one model.safetensors or shards listed
// by model.safetensors.index.json.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/mapped_file.h"

namespace smolvk {

// F32/F16/BF16 are model weights; the integer types are readable but is_float() says no.
enum class TensorDType { F32, F16, BF16, I32, I64, U8, Bool };
const char* dtype_name(TensorDType t);  // as safetensors spells it ("F32", "BOOL", ...)
size_t dtype_size(TensorDType t);
bool is_float(TensorDType t);

struct TensorView {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // inside the mapping; no alignment guarantee (memcpy)
  size_t bytes = 0;
  std::string file;  // the file it lives in
  int64_t numel() const;
};

std::string shape_string(std::span<const int64_t> shape);  // "[2, 3]"

// Largest header accepted (as the reference safetensors library does).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
// Most tensors one file may list (SmolVLM-256M has 470 in all; the largest public
// checkpoints have under 100k per shard) and most dimensions one tensor may have (NumPy's 64).
inline constexpr size_t kSafetensorsMaxTensors = 1'000'000;
inline constexpr size_t kSafetensorsMaxRank = 64;

// Validates one safetensors image (header length, JSON, dtypes, shape × dtype size == span,
// spans inside the data, no overlaps) and returns views into `bytes`, ordered by offset.
// `file` names the source in errors.
std::vector<TensorView> parse_safetensors(std::span<const std::byte> bytes, const std::string& file);

class SafeTensors {
 public:
  // `path` is a model directory (model.safetensors, else model.safetensors.index.json),
  // a .safetensors file, or an index .json file. Throws LoadError on any problem.
  static SafeTensors open(const std::filesystem::path& path);

  const TensorView* find(std::string_view name) const;
  const TensorView& at(std::string_view name) const;  // LoadError names tensor and source
  std::vector<std::string> names() const;             // sorted
  size_t size() const { return tensors_.size(); }
  const std::string& source() const { return source_; }  // what was opened, for messages
  const std::vector<std::string>& files() const { return files_; }

 private:
  void add_file(const std::filesystem::path& path);
  void open_index(const std::filesystem::path& index_path);

  std::vector<MappedFile> maps_;
  std::map<std::string, TensorView, std::less<>> tensors_;
  std::string source_;
  std::vector<std::string> files_;
};

}  // namespace smolvk
