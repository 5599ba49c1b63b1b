#include "loader/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "loader/config_json.h"
#include "loader/error.h"

namespace smolvk {
namespace {

struct DTypeInfo {
  const char* name;
  TensorDType type;
  size_t size;
};
constexpr std::array kDTypes = {
    DTypeInfo{"F32", TensorDType::F32, 4},   DTypeInfo{"F16", TensorDType::F16, 2},
    DTypeInfo{"BF16", TensorDType::BF16, 2}, DTypeInfo{"I32", TensorDType::I32, 4},
    DTypeInfo{"I64", TensorDType::I64, 8},   DTypeInfo{"U8", TensorDType::U8, 1},
    DTypeInfo{"BOOL", TensorDType::Bool, 1},
};

const DTypeInfo& info(TensorDType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d;
  return kDTypes[0];  // unreachable: every enumerator is listed
}

bool get_u64(const nlohmann::json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    out = uint64_t(v.get<int64_t>());
    return true;
  }
  return false;
}

TensorView parse_entry(const std::string& name, const nlohmann::json& e, uint64_t data_size, const std::byte* data,
                       const std::string& file) {
  auto fail = [&](const std::string& what) -> LoadError {
    return LoadError(file + ": tensor '" + name + "': " + what);
  };
  if (!e.is_object()) throw fail("header entry " + e.dump() + " is not an object");
  auto dt = e.find("dtype");
  auto sh = e.find("shape");
  auto off = e.find("data_offsets");
  if (dt == e.end() || sh == e.end() || off == e.end())
    throw fail("header entry " + e.dump() + " lacks dtype, shape or data_offsets");
  if (!dt->is_string()) throw fail("dtype " + dt->dump() + " is not a string");
  const DTypeInfo* d = nullptr;
  for (const auto& k : kDTypes)
    if (dt->get<std::string>() == k.name) d = &k;
  if (!d) throw fail("unknown dtype " + dt->dump() + ", expected one of F32, F16, BF16, I32, I64, U8, BOOL");

  TensorView t;
  t.name = name;
  t.dtype = d->type;
  t.file = file;
  if (!sh->is_array()) throw fail("shape " + sh->dump() + " is not a list");
  if (sh->size() > kSafetensorsMaxRank)
    throw fail("shape has " + std::to_string(sh->size()) + " dimensions, over the limit of " +
               std::to_string(kSafetensorsMaxRank));
  uint64_t numel = 1;
  for (const auto& s : *sh) {
    uint64_t dim = 0;
    if (!get_u64(s, dim) || dim > uint64_t(INT64_MAX)) throw fail("shape " + sh->dump() + " has a bad dimension");
    if (__builtin_mul_overflow(numel, dim, &numel)) throw fail("shape " + sh->dump() + " overflows");
    t.shape.push_back(int64_t(dim));
  }
  uint64_t begin = 0, end = 0;
  if (!off->is_array() || off->size() != 2 || !get_u64((*off)[0], begin) || !get_u64((*off)[1], end) || begin > end)
    throw fail("data_offsets " + off->dump() + " is not [begin, end] with 0 <= begin <= end");
  if (end > data_size)
    throw fail("data_offsets " + off->dump() + " reach past the end of the data (" + std::to_string(data_size) +
               " bytes after the header; file truncated?)");
  uint64_t expect = 0;
  if (__builtin_mul_overflow(numel, uint64_t(d->size), &expect)) throw fail("shape " + sh->dump() + " overflows");
  if (expect != end - begin)
    throw fail("shape " + sh->dump() + " × " + d->name + " is " + std::to_string(expect) + " bytes but data_offsets " +
               off->dump() + " span " + std::to_string(end - begin));
  t.data = data + begin;
  t.bytes = size_t(end - begin);
  return t;
}

}  // namespace

const char* dtype_name(TensorDType t) { return info(t).name; }
size_t dtype_size(TensorDType t) { return info(t).size; }
bool is_float(TensorDType t) { return t == TensorDType::F32 || t == TensorDType::F16 || t == TensorDType::BF16; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_string(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<TensorView> parse_safetensors(std::span<const std::byte> bytes, const std::string& file) {
  if (bytes.size() < 8)
    throw LoadError(file + ": " + std::to_string(bytes.size()) +
                    " bytes, too short for a safetensors file (8-byte header length first)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint64_t(bytes[size_t(i)]);  // little-endian
  if (n > kSafetensorsMaxHeaderBytes)
    throw LoadError(file + ": header length " + std::to_string(n) + " exceeds the " +
                    std::to_string(kSafetensorsMaxHeaderBytes) + "-byte limit");
  if (n > bytes.size() - 8)
    throw LoadError(file + ": header length " + std::to_string(n) + " reaches past the end of the file (" +
                    std::to_string(bytes.size()) + " bytes)");
  const char* hb = reinterpret_cast<const char*>(bytes.data() + 8);
  const nlohmann::json header = parse_json_text(std::string_view(hb, size_t(n)), file + ": header");
  if (!header.is_object()) throw LoadError(file + ": header is not a JSON object");
  if (header.size() > kSafetensorsMaxTensors + 1)  // + __metadata__
    throw LoadError(file + ": header lists " + std::to_string(header.size()) + " entries, over the limit of " +
                    std::to_string(kSafetensorsMaxTensors) + " tensors per file");

  const std::byte* data = bytes.data() + 8 + n;
  uint64_t data_size = bytes.size() - 8 - n;
  std::vector<TensorView> views;
  views.reserve(header.size());
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    views.push_back(parse_entry(name, entry, data_size, data, file));
  }
  std::sort(views.begin(), views.end(), [](const TensorView& a, const TensorView& b) {
    return a.data != b.data ? a.data < b.data : a.bytes < b.bytes;
  });
  const TensorView* prev = nullptr;  // the non-empty span reaching furthest so far
  for (const auto& v : views) {
    if (v.bytes == 0) continue;
    if (prev && v.data < prev->data + prev->bytes)
      throw LoadError(file + ": tensors '" + prev->name + "' and '" + v.name + "' overlap (bytes " +
                      std::to_string(v.data - data) + " to " + std::to_string(prev->data + prev->bytes - data) +
                      " of the data)");
    prev = &v;
  }
  return views;
}

SafeTensors SafeTensors::open(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  SafeTensors st;
  st.source_ = path.string();
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    auto single = path / "model.safetensors";
    auto index = path / "model.safetensors.index.json";
    if (fs::exists(single, ec)) {
      st.add_file(single);
    } else if (fs::exists(index, ec)) {
      st.open_index(index);
    } else {
      throw LoadError(path.string() + ": neither model.safetensors nor model.safetensors.index.json found");
    }
  } else if (path.extension() == ".json") {
    st.open_index(path);
  } else {
    st.add_file(path);
  }
  return st;
}

void SafeTensors::add_file(const std::filesystem::path& path) {
  MappedFile m(path);
  for (auto& v : parse_safetensors(m.bytes(), path.string())) {
    if (auto it = tensors_.find(v.name); it != tensors_.end())
      throw LoadError(path.string() + ": tensor '" + v.name + "' also stored in " + it->second.file);
    std::string name = v.name;
    tensors_.emplace(std::move(name), std::move(v));
  }
  maps_.push_back(std::move(m));  // views stay valid: the mapping does not move
  files_.push_back(path.string());
}

void SafeTensors::open_index(const std::filesystem::path& index_path) {
  const std::string src = index_path.string();
  auto j = read_config_json_file(index_path);
  auto wm = j.is_object() ? j.find("weight_map") : j.end();
  if (wm == j.end() || !wm->is_object())
    throw LoadError(src + ": expected an object with a \"weight_map\" object of tensor → shard file");
  std::map<std::string, std::string> shard_of;  // tensor → shard file name
  std::set<std::string> shards;
  for (const auto& [name, shard] : wm->items()) {
    if (!shard.is_string())
      throw LoadError(src + ": weight_map[\"" + name + "\"] = " + shard.dump() + ": expected a file name");
    auto f = shard.get<std::string>();
    // Shards live beside the index: a bare file name only.
    if (f.empty() || f == "." || f == ".." || f.find('/') != std::string::npos || f.find('\\') != std::string::npos ||
        f.find('\0') != std::string::npos)
      throw LoadError(src + ": weight_map[\"" + name + "\"] = \"" + f + "\": expected a file name in the same folder");
    shard_of[name] = f;
    shards.insert(f);
  }
  if (shards.empty()) throw LoadError(src + ": weight_map is empty");
  auto dir = index_path.parent_path();
  for (const auto& f : shards) {
    std::error_code ec;
    if (!std::filesystem::exists(dir / f, ec)) {
      size_t count = 0;
      std::string example;
      for (const auto& [name, s] : shard_of)
        if (s == f && count++ == 0) example = name;
      throw LoadError(src + ": shard " + (dir / f).string() + " does not exist (it holds " + std::to_string(count) +
                      " tensors, e.g. '" + example + "')");
    }
    add_file(dir / f);
  }
  for (const auto& [name, f] : shard_of) {
    auto it = tensors_.find(name);
    auto path = (dir / f).string();
    if (it == tensors_.end() || it->second.file != path)
      throw LoadError(src + ": tensor '" + name + "' is listed in shard " + f + " but absent from " + path);
  }
}

const TensorView* SafeTensors::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafeTensors::at(std::string_view name) const {
  if (const auto* t = find(name)) return *t;
  throw LoadError(source_ + ": tensor '" + std::string(name) + "' not found");
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

}  // namespace smolvk
