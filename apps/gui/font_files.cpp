#include "apps/gui/font_files.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>

namespace smolvk::gui {

const std::vector<FontCandidate>& text_font_candidates() {
  static const std::vector<FontCandidate> c = {
      {"truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core"},
      {"truetype/noto/NotoSans-Regular.ttf", "fonts-noto-core"},
      {"truetype/liberation2/LiberationSans-Regular.ttf", "fonts-liberation2"},
      {"truetype/liberation/LiberationSans-Regular.ttf", "fonts-liberation"},
      {"truetype/freefont/FreeSans.ttf", "fonts-freefont-ttf"},
  };
  return c;
}

const std::vector<FontCandidate>& cjk_font_candidates() {
  static const std::vector<FontCandidate> c = {
      {"opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk"},
      {"truetype/wqy/wqy-microhei.ttc", "fonts-wqy-microhei"},
      {"truetype/wqy/wqy-zenhei.ttc", "fonts-wqy-zenhei"},
      {"truetype/droid/DroidSansFallbackFull.ttf", "fonts-droid-fallback"},
  };
  return c;
}

std::vector<std::filesystem::path> default_font_roots() {
  const char* env = std::getenv("SMOLVK_GUI_FONT_ROOTS");
  if (!env || !*env) return {"/usr/share/fonts", "/usr/local/share/fonts"};
  std::vector<std::filesystem::path> roots;
  std::string all = env;
  for (size_t at = 0; at <= all.size();) {
    size_t colon = std::min(all.find(':', at), all.size());
    if (colon > at) roots.emplace_back(all.substr(at, colon - at));
    at = colon + 1;
  }
  return roots;
}

bool looks_like_font_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return false;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || size < 12 || size > (64u << 20)) return false;
  std::ifstream f(file, std::ios::binary);
  std::array<unsigned char, 12> head{};
  if (!f.read(reinterpret_cast<char*>(head.data()), head.size())) return false;
  auto be32 = [&](int at) {
    return uint32_t(head[at]) << 24 | uint32_t(head[at + 1]) << 16 | head[at + 2] << 8 | head[at + 3];
  };
  if (std::memcmp(head.data(), "ttcf", 4) == 0)  // a collection: version 1 or 2, at least one font
    return (be32(4) == 0x00010000 || be32(4) == 0x00020000) && be32(8) >= 1;
  for (const char* t : {"\x00\x01\x00\x00", "true", "OTTO"})
    if (std::memcmp(head.data(), t, 4) == 0) return true;
  return false;
}

namespace {
std::optional<std::filesystem::path> first_found(const std::vector<FontCandidate>& candidates,
                                                 const std::vector<std::filesystem::path>& roots) {
  for (const auto& c : candidates)
    for (const auto& root : roots)
      if (auto p = root / c.relative_path; looks_like_font_file(p)) return p;
  return std::nullopt;
}
}  // namespace

FontFiles find_fonts(const std::vector<std::filesystem::path>& roots) {
  return {first_found(text_font_candidates(), roots), first_found(cjk_font_candidates(), roots)};
}

}  // namespace smolvk::gui
