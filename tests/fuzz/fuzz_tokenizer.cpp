// tokenizer_load: arbitrary tokenizer.json text → Tokenizer (with and without the fixture's
// tokenizer_config.json), then encode and decode with it. tokenize: the fixture tokenizer
// (idefics3_f32) on arbitrary bytes: encode, decode, stream-decode; tokenize_llama3 the same
// with Llama-3's layout (the Split pre-tokenizer's regex on any text).
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <vector>

#include "loader/config_json.h"
#include "loader/error.h"
#include "loader/tokenizer.h"
#include "loader/unicode.h"
#include "tests/fuzz/fuzz_targets.h"

namespace smolvk::fuzz {

namespace {

bool valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const auto u = unicode::decode_utf8(s, pos);
    if (!u.valid) return false;
    pos += u.len;
  }
  return true;
}

// decode / stream decode / token_bytes of `ids`; the output is always valid UTF-8.
void check_decode(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (bool skip : {false, true}) {
    const std::string text = tok.decode(ids, skip);
    if (!valid_utf8(text)) violated("decode gave ill-formed UTF-8");
    StreamDecoder stream(tok, skip);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string part = stream.feed(id);
      if (!valid_utf8(part)) violated("StreamDecoder::feed returned part of a UTF-8 character");
      streamed += part;
    }
    streamed += stream.flush();
    if (streamed != text) violated("stream decode differs from decode");
    for (int32_t id : ids) (void)tok.token_bytes(id, skip);
  }
}

const Tokenizer& fixture_tokenizer() {
  static const Tokenizer tok = Tokenizer::load(data_dir() / "idefics3_f32" / "tokenizer.json");
  return tok;
}

// Llama-3's tokenizer layout (tests/data/llama3_tokenizer: the Split pre-tokenizer with its
// regex, ignore_merges, <|begin_of_text|>), for tokenize_llama3.
const Tokenizer& llama3_tokenizer() {
  static const Tokenizer tok = Tokenizer::load(data_dir() / "llama3_tokenizer" / "tokenizer.json");
  return tok;
}

const nlohmann::json& fixture_config() {
  static const nlohmann::json j = read_config_json_file(data_dir() / "idefics3_f32" / "tokenizer_config.json");
  return j;
}

}  // namespace

int tokenizer_load(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<Tokenizer> tok;
  try {
    tok.emplace(Tokenizer::from_json(text, "fuzz/tokenizer.json", size % 2 ? &fixture_config() : nullptr));
  } catch (const LoadError&) {
    return 0;
  }
  const size_t vocab = tok->vocab_size();
  for (const char* s : {"Hello world! 123 naïve 你好 <image>", "", "\xff\xfe bad \xc3", "  \n\n\t x"}) {
    const std::vector<int32_t> ids = tok->encode(s);
    for (int32_t id : ids)
      if (id < 0 || size_t(id) >= vocab) violated("encode gave id " + std::to_string(id) + " outside the vocab");
    check_decode(*tok, ids);
  }
  std::vector<int32_t> ids;
  for (int32_t id = -2; id < int32_t(std::min<size_t>(vocab, 600)) + 2; ++id) ids.push_back(id);
  check_decode(*tok, ids);
  for (int32_t id : ids) {
    try {
      (void)tok->id_to_token(id);
    } catch (const std::out_of_range&) {  // documented for ids without a token
    }
  }
  (void)tok->bos_prefix();
  return 0;
}

namespace {
int tokenize_with(const Tokenizer& tok, const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<int32_t> ids = tok.encode(text);
  for (int32_t id : ids)
    if (id < 0 || size_t(id) >= tok.vocab_size()) violated("encode gave id " + std::to_string(id));
  // Byte-level BPE without a normalizer loses nothing: well-formed text round-trips.
  if (valid_utf8(text) && tok.decode(ids) != text) violated("decode(encode(text)) != text");
  check_decode(tok, ids);
  // The same bytes read as token ids (unknown and negative ones included).
  std::vector<int32_t> raw;
  Reader r(data, size);
  while (!r.empty()) raw.push_back(int32_t(r.u16() % (tok.vocab_size() + 16)) - 8);
  check_decode(tok, raw);
  return 0;
}
}  // namespace

int tokenize(const uint8_t* data, size_t size) { return tokenize_with(fixture_tokenizer(), data, size); }

int tokenize_llama3(const uint8_t* data, size_t size) { return tokenize_with(llama3_tokenizer(), data, size); }

}  // namespace smolvk::fuzz
