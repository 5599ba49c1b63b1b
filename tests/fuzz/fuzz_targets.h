#pragma once
// libFuzzer harnesses of the loader (no Vulkan). Each feeds one input to loader entry points:
// a LoadError is the expected answer to bad input and is swallowed; anything else — another
// exception, a crash, a sanitizer report, a broken invariant (std::logic_error) — is a
// finding. fuzz_main.cpp turns one of them into a libFuzzer binary (-DSMOLVK_FUZZ=ON, clang);
// tests/loader/test_fuzz_regressions.cpp replays tests/fuzz/regressions/<target>/ and the
// seeds through the same functions in every build.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace smolvk::fuzz {

int safetensors(const uint8_t* data, size_t size);     // parse_safetensors: header + spans
int shard_index(const uint8_t* data, size_t size);     // model.safetensors.index.json + real shards
int config(const uint8_t* data, size_t size);          // config.json, processor / preprocessor / generation configs
int tokenizer_load(const uint8_t* data, size_t size);  // tokenizer.json → Tokenizer, then encode / decode
int tokenize(const uint8_t* data, size_t size);        // encode / decode / stream-decode arbitrary bytes
int tokenize_llama3(const uint8_t* data, size_t size); // the same with Llama-3's Split pre-tokenizer
int prompt(const uint8_t* data, size_t size);          // chat template + image-token expansion + encode
int image(const uint8_t* data, size_t size);           // decode_image + preprocess_image (size-capped)
int npy(const uint8_t* data, size_t size);             // parse_npy
// apps/server: a /v1/chat/completions body → parse_chat_request. Not in kTargets (test_loader
// does not link the server); test_server replays its seeds and regressions.
int server_request(const uint8_t* data, size_t size);

struct Target {
  const char* name;
  int (*run)(const uint8_t*, size_t);
};
inline constexpr Target kTargets[] = {
    {"safetensors", &safetensors},
    {"shard_index", &shard_index},
    {"config", &config},
    {"tokenizer_load", &tokenizer_load},
    {"tokenize", &tokenize},
    {"tokenize_llama3", &tokenize_llama3},
    {"prompt", &prompt},
    {"image", &image},
    {"npy", &npy},
};

// tests/data ($SMOLVK_TEST_DATA overrides): fixtures some harnesses start from.
std::filesystem::path data_dir();

// A broken invariant: thrown, never caught by a harness.
[[noreturn]] inline void violated(const std::string& what) { throw std::logic_error("fuzz invariant: " + what); }

// Reads an input front to back; past the end every read gives 0 / empty.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  uint8_t u8() { return i_ < n_ ? p_[i_++] : 0; }
  uint16_t u16() { return uint16_t(u8() | (u8() << 8)); }
  uint32_t u32() { return uint32_t(u16()) | (uint32_t(u16()) << 16); }
  std::string_view bytes(size_t len) {
    len = std::min(len, n_ - i_);
    std::string_view s(reinterpret_cast<const char*>(p_ + i_), len);
    i_ += len;
    return s;
  }
  std::string_view rest() { return bytes(n_ - i_); }
  bool empty() const { return i_ >= n_; }

 private:
  const uint8_t* p_;
  size_t n_, i_ = 0;
};

}  // namespace smolvk::fuzz
