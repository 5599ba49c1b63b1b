#include "loader/tokenizer_added.h"

#include "loader/unicode.h"

namespace smolvk {
namespace {

// The last unit of s[0, end): [begin, end) and its code point; ill-formed bytes come back
// one at a time with valid = false.
struct Tail {
  size_t begin;
  char32_t cp;
  bool valid;
};
Tail last_unit(std::string_view s, size_t end) {
  size_t p = end - 1;
  while (p > 0 && end - p < 4 && (uint8_t(s[p]) & 0xC0) == 0x80) --p;
  const unicode::Utf8Unit u = unicode::decode_utf8(s, p);
  if (u.valid && p + u.len == end) return {p, u.cp, true};
  return {end - 1, 0, false};
}

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  const Tail t = last_unit(s, s.size());
  return t.valid && unicode::is_word_char(t.cp);
}

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  const unicode::Utf8Unit u = unicode::decode_utf8(s, 0);
  return u.valid && unicode::is_word_char(u.cp);
}

// Start of the whitespace run that ends `s`.
size_t trailing_space_start(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    const Tail t = last_unit(s, end);
    if (!t.valid || !unicode::is_white_space(t.cp)) break;
    end = t.begin;
  }
  return end;
}

// Length of the whitespace run that starts `s`.
size_t leading_space_len(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    const unicode::Utf8Unit u = unicode::decode_utf8(s, pos);
    if (!u.valid || !unicode::is_white_space(u.cp)) break;
    pos += u.len;
  }
  return pos;
}

}  // namespace

void AddedVocabulary::add(AddedToken token) {
  if (token.content.empty()) return;  // HF ignores empty added tokens
  const size_t index = tokens_.size();
  by_first_byte_[token.normalized ? 1 : 0][uint8_t(token.content[0])].push_back(index);
  by_id_[token.id] = index;
  by_content_[token.content] = index;
  tokens_.push_back(std::move(token));
}

const AddedToken* AddedVocabulary::find(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

AddedVocabulary::Match AddedVocabulary::find_leftmost_longest(std::string_view text, size_t from,
                                                              bool normalized) const {
  const auto& buckets = by_first_byte_[normalized ? 1 : 0];
  for (size_t pos = from; pos < text.size(); ++pos) {
    const AddedToken* best = nullptr;
    for (size_t index : buckets[uint8_t(text[pos])]) {
      const AddedToken& t = tokens_[index];
      if ((!best || t.content.size() > best->content.size()) && text.substr(pos, t.content.size()) == t.content)
        best = &t;
    }
    if (best) return {pos, pos + best->content.size(), best};
  }
  return {text.size(), text.size(), nullptr};
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::split(std::string_view text, bool normalized) const {
  std::vector<Segment> out;
  size_t done = 0;  // end of the last emitted segment
  for (size_t from = 0; from < text.size();) {
    const Match m = find_leftmost_longest(text, from, normalized);
    if (!m.token) break;
    from = m.end;  // matching resumes after the raw match, as aho-corasick's find_iter does
    size_t begin = m.begin, end = m.end;
    if (m.token->single_word) {
      const bool space_before = begin == 0 || !ends_with_word(text.substr(0, begin));
      const bool space_after = end == text.size() || !starts_with_word(text.substr(end));
      if (!space_before || !space_after) continue;
    }
    if (m.token->lstrip) begin = std::max(trailing_space_start(text.substr(0, begin)), done);
    if (m.token->rstrip) end += leading_space_len(text.substr(end));
    if (done < begin) out.push_back({done, begin, -1});
    out.push_back({begin, end, m.token->id});
    done = end;
  }
  if (done < text.size()) out.push_back({done, text.size(), -1});
  return out;
}

}  // namespace smolvk
