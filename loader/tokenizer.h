#pragma once
// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json, matching HF
// `tokenizers` (SmolLM2 / SmolVLM, and Llama-3's: Split regex pre-tokenizer, ignore_merges,
// the template's <|begin_of_text|>).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace smolvk {

// Largest token id accepted in tokenizer.json (model vocab and added tokens). Real vocabularies
// stay under 300k; the id tables are sized by the largest id, so it is bounded before they are.
inline constexpr int32_t kMaxTokenId = (1 << 22) - 1;

class Tokenizer {
 public:
  // Reads `file` (tokenizer.json) and, if present next to it, tokenizer_config.json.
  static Tokenizer load(const std::filesystem::path& file);
  // From JSON text; `origin` names the source in error messages. `config` is the parsed
  // tokenizer_config.json or null.
  static Tokenizer from_json(std::string_view tokenizer_json, const std::string& origin,
                             const nlohmann::json* config = nullptr);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // The ids of `text`, no special tokens added (added tokens in the text are matched).
  // Ill-formed UTF-8 is tokenized byte by byte, never rejected.
  std::vector<int32_t> encode(std::string_view text) const;
  // Ids the post-processor puts before a sequence (Llama-3's <|begin_of_text|>); empty for
  // SmolLM2. tokenizer_config.json's add_bos_token, when given, overrides the template.
  std::span<const int32_t> bos_prefix() const;

  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;
  // Bytes that `id` contributes to decoded text before the UTF-8 repair of decode();
  // nullopt for unknown ids and, with skip_special, special tokens (both are dropped).
  std::optional<std::string> token_bytes(int32_t id, bool skip_special) const;
  // True when the decoder joins tokens with spaces (tokenizer.json without a decoder).
  bool joins_with_space() const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // LoadError naming the token, the file and `why` it is needed.
  int32_t require_token(std::string_view token, const std::string& why) const;
  // std::out_of_range for an id that has no token.
  std::string id_to_token(int32_t id) const;
  // 1 + the largest id of the model vocab and the added tokens.
  size_t vocab_size() const;
  bool is_special(int32_t id) const;
  const std::string& origin() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Incremental decode: feed ids one at a time and get the text that is final so far. Never
// returns part of a UTF-8 character; flush() returns the rest at the end of the stream.
// decode(ids) == concatenation of every feed() and flush(). The tokenizer must outlive the
// decoder and stay where it is (not moved from).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);
  std::string feed(int32_t id);
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;  // bytes not yet returned
};

}  // namespace smolvk
