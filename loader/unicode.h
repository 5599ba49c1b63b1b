#pragma once
// UTF-8 decoding that never fails, Unicode class tests for the tokenizer, and the lossy
// UTF-8 conversion Rust's String::from_utf8_lossy does (HF tokenizers' decode uses it).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace smolvk::unicode {

bool is_letter(char32_t cp);       // \p{L}
bool is_number(char32_t cp);       // \p{N}; also Rust char::is_numeric
bool is_white_space(char32_t cp);  // \s, char::is_whitespace
bool is_word_char(char32_t cp);    // Rust regex \w

// One step of decoding. A well-formed sequence gives its code point (valid = true). An
// ill-formed one gives its maximal subpart (Unicode's "substitution of maximal subparts",
// as from_utf8_lossy does): `len` >= 1 bytes, valid = false, and truncated = true when that
// subpart is a correct prefix cut short by the end of the input.
struct Utf8Unit {
  char32_t cp = 0;
  uint32_t len = 0;
  bool valid = false;
  bool truncated = false;
};
Utf8Unit decode_utf8(std::string_view s, size_t pos);

void append_utf8(std::string& out, char32_t cp);

// Each ill-formed subpart becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// Length of the longest prefix that no following bytes can change: everything except a
// trailing incomplete (but so far correct) multi-byte sequence.
size_t stable_utf8_prefix(std::string_view bytes);

}  // namespace smolvk::unicode
