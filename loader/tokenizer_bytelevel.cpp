#include "loader/tokenizer_bytelevel.h"

#include <array>

#include "loader/unicode.h"

namespace smolvk::bytelevel {
namespace {

// Printable Latin-1 bytes map to themselves; the other 68 bytes, in order, to U+0100...
struct Tables {
  std::array<char32_t, 256> to_cp{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 256 + 68> from_cp;  // -1: not a mapped byte
  Tables() {
    from_cp.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_cp[b] = printable ? char32_t(b) : next++;
      unicode::append_utf8(to_utf8[b], to_cp[b]);
      from_cp[to_cp[b]] = int16_t(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

void append_mapped(std::string& out, std::string_view bytes) {
  const Tables& t = tables();
  for (char c : bytes) out += t.to_utf8[uint8_t(c)];
}

std::optional<uint8_t> unmap(char32_t cp) {
  const auto& from_cp = tables().from_cp;
  if (cp >= from_cp.size() || from_cp[cp] < 0) return std::nullopt;
  return uint8_t(from_cp[cp]);
}

}  // namespace smolvk::bytelevel
