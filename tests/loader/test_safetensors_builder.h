#pragma once
// Test helpers: build safetensors byte images in memory and write them into a scratch folder.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smolvk::test {

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "smolvk-loader-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

inline size_t safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "I64") return 8;
  return 1;
}

// Tensors are laid out back to back in the order added. F32 element i holds `first + i`;
// other dtypes are zero. Tests may edit `header` before build() to make bad files.
struct SafetensorsBuilder {
  nlohmann::json header = nlohmann::json::object();
  std::string data;

  SafetensorsBuilder& add(const std::string& name, const std::vector<int64_t>& shape, const std::string& dtype = "F32",
                          float first = 0.0f) {
    size_t n = 1;
    for (auto d : shape) n *= size_t(d);
    size_t begin = data.size();
    if (dtype == "F32") {
      for (size_t i = 0; i < n; ++i) {
        float v = first + float(i);
        data.append(reinterpret_cast<const char*>(&v), 4);
      }
    } else {
      data.append(n * safetensors_dtype_size(dtype), '\0');
    }
    header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
    return *this;
  }

  // The file image with `header_text` in place of header.dump() when given.
  std::string build(const std::string* header_text = nullptr) const {
    std::string h = header_text ? *header_text : header.dump();
    uint64_t n = h.size();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
    return out + h + data;
  }
  void write(const std::filesystem::path& p) const { write_bytes(p, build()); }
};

}  // namespace smolvk::test
