#pragma once
// SPIR-V modules compiled from shaders/*.comp at build time (see shaders/variants.cmake).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace smolvk {
struct EmbeddedShader {
  const char* name;
  const uint32_t* words;
  size_t word_count;
};
std::span<const EmbeddedShader> embedded_shaders();
const EmbeddedShader* find_embedded_shader(std::string_view name);
}  // namespace smolvk
