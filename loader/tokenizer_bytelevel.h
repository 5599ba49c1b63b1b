#pragma once
// GPT-2's reversible byte <-> printable code point map used by byte-level BPE.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smolvk::bytelevel {

// Appends the mapped code point (as UTF-8) of every byte of `bytes`.
void append_mapped(std::string& out, std::string_view bytes);

// The byte a mapped code point stands for, if it is one.
std::optional<uint8_t> unmap(char32_t cp);

}  // namespace smolvk::bytelevel
