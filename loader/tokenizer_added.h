#pragma once
// HF tokenizers' added vocabulary: tokens matched in the raw text before any
// pre-tokenization (leftmost-longest), with the single_word / lstrip / rstrip rules.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace smolvk {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

class AddedVocabulary {
 public:
  struct Segment {
    size_t begin, end;  // byte range in the text
    int32_t id;         // -1: plain text
  };

  void add(AddedToken token);
  const AddedToken* find(int32_t id) const;
  const AddedToken* find(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

  // Splits `text` into plain and added-token segments covering it. `normalized` picks the
  // tokens matched on normalized text (normalized = true) or those matched on the raw text.
  std::vector<Segment> split(std::string_view text, bool normalized) const;

 private:
  struct Match {
    size_t begin, end;
    const AddedToken* token;
  };
  Match find_leftmost_longest(std::string_view text, size_t from, bool normalized) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  // Token indices by first byte, per matching pass.
  std::vector<size_t> by_first_byte_[2][256];
};

}  // namespace smolvk
