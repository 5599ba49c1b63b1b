#include "loader/unicode.h"

#include <algorithm>

#include "loader/unicode_tables.h"

namespace smolvk::unicode {
namespace {

using unicode_tables::CodepointRange;

bool in_table(const CodepointRange* table, size_t count, char32_t cp) {
  const CodepointRange* end = table + count;
  const CodepointRange* it =
      std::upper_bound(table, end, uint32_t(cp), [](uint32_t v, const CodepointRange& r) { return v < r.lo; });
  return it != table && cp <= (it - 1)->hi;
}

// Allowed range of the second byte for each lead byte (the later bytes are 80..BF).
struct LeadInfo {
  uint32_t len;
  uint8_t lo, hi;
};
LeadInfo lead_info(uint8_t b) {
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // no surrogates
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

}  // namespace

bool is_letter(char32_t cp) { return in_table(unicode_tables::letter, unicode_tables::letter_count, cp); }
bool is_number(char32_t cp) { return in_table(unicode_tables::number, unicode_tables::number_count, cp); }
bool is_white_space(char32_t cp) {
  return in_table(unicode_tables::white_space, unicode_tables::white_space_count, cp);
}
bool is_word_char(char32_t cp) { return in_table(unicode_tables::word, unicode_tables::word_count, cp); }

Utf8Unit decode_utf8(std::string_view s, size_t pos) {
  const auto b0 = uint8_t(s[pos]);
  if (b0 < 0x80) return {b0, 1, true, false};
  const LeadInfo info = lead_info(b0);
  if (info.len == 0) return {0, 1, false, false};
  char32_t cp = b0 & (0xFF >> (info.len + 1));
  for (uint32_t i = 1; i < info.len; ++i) {
    if (pos + i >= s.size()) return {0, i, false, true};
    const auto b = uint8_t(s[pos + i]);
    const uint8_t lo = i == 1 ? info.lo : 0x80, hi = i == 1 ? info.hi : 0xBF;
    if (b < lo || b > hi) return {0, i, false, false};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, info.len, true, false};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    const Utf8Unit u = decode_utf8(bytes, pos);
    if (u.valid)
      out.append(bytes.substr(pos, u.len));
    else
      append_utf8(out, U'\uFFFD');
    pos += u.len;
  }
  return out;
}

size_t stable_utf8_prefix(std::string_view bytes) {
  // A multi-byte sequence is at most 4 bytes, so only the tail needs looking at.
  size_t pos = bytes.size() > 3 ? bytes.size() - 3 : 0;
  while (pos > 0 && (uint8_t(bytes[pos]) & 0xC0) == 0x80) --pos;
  while (pos < bytes.size()) {
    const Utf8Unit u = decode_utf8(bytes, pos);
    if (u.truncated) return pos;
    pos += u.len;
  }
  return bytes.size();
}

}  // namespace smolvk::unicode
