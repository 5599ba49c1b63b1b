// safetensors: parse_safetensors on arbitrary bytes (header length, JSON header, dtypes,
// shapes, data_offsets, overlaps); shard_index: a fuzzed model.safetensors.index.json next to
// the smolvlm_bf16 fixture's four real shards, opened as a checkpoint.
#include <unistd.h>

#include <fstream>
#include <span>

#include "loader/error.h"
#include "loader/safetensors.h"
#include "tests/fuzz/fuzz_targets.h"

namespace smolvk::fuzz {

int safetensors(const uint8_t* data, size_t size) {
  const auto bytes = std::span(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto views = parse_safetensors(bytes, "fuzz.safetensors");
    const std::byte* end = bytes.data() + size;
    for (const TensorView& v : views) {
      if (v.bytes && (v.data < bytes.data() || v.data > end || v.bytes > size_t(end - v.data)))
        violated("tensor '" + v.name + "' points outside the input");
      if (uint64_t(v.numel()) * dtype_size(v.dtype) != v.bytes) violated("tensor '" + v.name + "' size");
      (void)shape_string(v.shape);
    }
  } catch (const LoadError&) {
  }
  return 0;
}

namespace {
// A private folder holding the fixture's shards, made once per process.
std::filesystem::path shard_dir() {
  static const std::filesystem::path dir = [] {
    char tmpl[] = "/tmp/smolvk-fuzz-shards-XXXXXX";
    if (!mkdtemp(tmpl)) violated("mkdtemp failed");
    const std::filesystem::path d = tmpl, src = data_dir() / "smolvlm_bf16";
    for (const auto& e : std::filesystem::directory_iterator(src))
      if (e.path().extension() == ".safetensors") std::filesystem::copy_file(e.path(), d / e.path().filename());
    return d;
  }();
  return dir;
}
}  // namespace

int shard_index(const uint8_t* data, size_t size) {
  const auto index = shard_dir() / "model.safetensors.index.json";
  {
    std::ofstream out(index, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  try {
    const SafeTensors st = SafeTensors::open(index);
    for (const std::string& name : st.names()) {
      const TensorView& t = st.at(name);
      if (uint64_t(t.numel()) * dtype_size(t.dtype) != t.bytes) violated("tensor '" + name + "' size");
    }
  } catch (const LoadError&) {
  }
  return 0;
}

}  // namespace smolvk::fuzz
