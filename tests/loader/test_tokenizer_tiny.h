#pragma once
// A hand-built byte-level BPE tokenizer.json for the tokenizer unit tests: the 256 byte
// symbols (id = byte value), merges and added tokens chosen per test.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "loader/tokenizer.h"
#include "loader/tokenizer_bytelevel.h"

namespace smolvk::test {

struct TinyTokenizer {
  nlohmann::json j;
  int32_t next_id = 256;

  TinyTokenizer() {
    nlohmann::json vocab = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) {
      std::string s;
      const char c = char(b);
      bytelevel::append_mapped(s, std::string_view(&c, 1));
      vocab[s] = b;
    }
    j = {{"version", "1.0"},
         {"truncation", nullptr},
         {"padding", nullptr},
         {"added_tokens", nlohmann::json::array()},
         {"normalizer", nullptr},
         {"pre_tokenizer",
          {{"type", "Sequence"},
           {"pretokenizers",
            {{{"type", "Digits"}, {"individual_digits", true}},
             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}}}}},
         {"post_processor",
          {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
         {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
         {"model",
          {{"type", "BPE"},
           {"dropout", nullptr},
           {"unk_token", nullptr},
           {"continuing_subword_prefix", nullptr},
           {"end_of_word_suffix", nullptr},
           {"fuse_unk", false},
           {"byte_fallback", false},
           {"ignore_merges", false},
           {"vocab", vocab},
           {"merges", nlohmann::json::array()}}}};
  }

  // Adds the merge "a b" (in rank order of the calls) and the merged token.
  int32_t merge(const std::string& a, const std::string& b, bool as_pair = false) {
    auto& vocab = j["model"]["vocab"];
    if (!vocab.contains(a + b)) vocab[a + b] = next_id++;
    if (as_pair)
      j["model"]["merges"].push_back({a, b});
    else
      j["model"]["merges"].push_back(a + " " + b);
    return vocab[a + b].get<int32_t>();
  }

  int32_t add_token(const std::string& content, bool special, bool lstrip = false, bool rstrip = false,
                    bool single_word = false, bool normalized = false) {
    const int32_t id = next_id++;
    j["added_tokens"].push_back({{"id", id},
                                 {"content", content},
                                 {"single_word", single_word},
                                 {"lstrip", lstrip},
                                 {"rstrip", rstrip},
                                 {"normalized", normalized},
                                 {"special", special}});
    return id;
  }

  Tokenizer build() const { return Tokenizer::from_json(j.dump(), "tiny/tokenizer.json"); }
};

// The ids of byte-level tokens given in their mapped spelling (e.g. "Ġthe").
inline std::vector<int32_t> ids_of(const Tokenizer& tok, std::initializer_list<std::string> tokens) {
  std::vector<int32_t> ids;
  for (const std::string& t : tokens) {
    const std::optional<int32_t> id = tok.token_to_id(t);
    EXPECT_TRUE(id.has_value()) << "no token " << t;
    ids.push_back(id.value_or(-1));
  }
  return ids;
}

// The ids of raw bytes (one byte-symbol token per byte).
inline std::vector<int32_t> byte_ids(std::string_view bytes) {
  std::vector<int32_t> ids;
  for (char c : bytes) ids.push_back(uint8_t(c));
  return ids;
}

}  // namespace smolvk::test
