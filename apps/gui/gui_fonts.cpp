#include "apps/gui/gui_fonts.h"

#include <imgui.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace smolvk::gui {
namespace {

constexpr float kSizePx = 14.0f;

// Latin (with Latin-1 and Extended-A/B and the Vietnamese block), IPA and spacing modifiers,
// combining marks, Greek, Cyrillic, general punctuation, super/subscripts, currency,
// letterlike symbols, number forms, arrows, mathematical operators, box drawing, blocks,
// geometric shapes, and U+FFFD (what invalid UTF-8 in an answer becomes).
const ImWchar kTextRanges[] = {0x0020, 0x024F, 0x0250, 0x02FF, 0x0300, 0x036F, 0x0370, 0x03FF, 0x0400, 0x052F, 0x1E00,
                               0x1EFF, 0x2000, 0x206F, 0x2070, 0x209F, 0x20A0, 0x20CF, 0x2100, 0x218F, 0x2190, 0x21FF,
                               0x2200, 0x22FF, 0x2500, 0x259F, 0x25A0, 0x25FF, 0xFFFD, 0xFFFD, 0};

struct Loaded {
  std::string text = "built-in", cjk;
};
Loaded& loaded() {
  static Loaded l;
  return l;
}

// The file's bytes in memory ImGui owns (the atlas frees them), or null.
void* read_font(const std::filesystem::path& file, int* size) {
  std::ifstream f(file, std::ios::binary | std::ios::ate);
  if (!f) return nullptr;
  const std::streamoff n = f.tellg();
  if (n <= 0 || n > (64 << 20)) return nullptr;
  void* data = ImGui::MemAlloc(size_t(n));
  f.seekg(0);
  if (!f.read(static_cast<char*>(data), n)) {
    ImGui::MemFree(data);
    return nullptr;
  }
  *size = int(n);
  return data;
}

bool add_font(const std::filesystem::path& file, bool merge, const ImWchar* ranges) {
  int size = 0;
  void* data = read_font(file, &size);
  if (!data) return false;
  ImFontConfig cfg;
  cfg.MergeMode = merge;
  if (merge) cfg.OversampleH = 1;  // thousands of ideographs: keep the atlas small
  return ImGui::GetIO().Fonts->AddFontFromMemoryTTF(data, size, kSizePx, &cfg, ranges) != nullptr;
}

// One BMP code point as UTF-8.
std::string utf8(unsigned c) {
  if (c < 0x80) return std::string(1, char(c));
  if (c < 0x800) return {char(0xC0 | c >> 6), char(0x80 | (c & 0x3F))};
  return {char(0xE0 | c >> 12), char(0x80 | (c >> 6 & 0x3F)), char(0x80 | (c & 0x3F))};
}

void say_fallback_once(const std::string& why) {
  static bool said = false;
  if (said) return;
  said = true;
  std::fprintf(stderr, "smolvk-gui: %s; using Dear ImGui's built-in font, which draws ASCII only\n", why.c_str());
}

}  // namespace

void load_gui_fonts(const FontFiles& files) {
  ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  Loaded& l = loaded();
  l = Loaded{};
  if (!files.text) {
    std::string looked;
    for (const auto& c : text_font_candidates()) looked += (looked.empty() ? "" : ", ") + c.relative_path;
    std::string roots;
    for (const auto& r : default_font_roots()) roots += (roots.empty() ? "" : " or ") + r.string();
    say_fallback_once("no wide-coverage font found (looked for " + looked + " under " + roots +
                      "; Debian: apt-get install fonts-dejavu-core)");
    atlas->AddFontDefault();
  } else if (!add_font(*files.text, false, kTextRanges)) {
    say_fallback_once("cannot read the font " + files.text->string());
    atlas->AddFontDefault();
  } else {
    l.text = files.text->string();
  }
  if (files.cjk) {
    // CJK punctuation, kana, full-width forms and the 2,500 common simplified Chinese
    // ideographs with the 2,999 Japanese ones (largely the same). All ~21,000 ideographs, or
    // the 11,172 Hangul syllables, would make the atlas several times larger.
    static ImVector<ImWchar> cjk_ranges;
    if (cjk_ranges.empty()) {
      ImFontGlyphRangesBuilder b;
      b.AddRanges(atlas->GetGlyphRangesChineseSimplifiedCommon());
      b.AddRanges(atlas->GetGlyphRangesJapanese());
      b.BuildRanges(&cjk_ranges);
    }
    if (add_font(*files.cjk, true, cjk_ranges.Data)) l.cjk = files.cjk->string();
  }
  // Build once now, so that a file stb_truetype cannot parse falls back here instead of
  // leaving the atlas without a font; then let the first upload build it again with the image
  // preview's rectangle, which is added later.
  if (!atlas->Build()) {
    say_fallback_once("the font " + l.text + (l.cjk.empty() ? "" : " or " + l.cjk) + " did not load");
    atlas->Clear();
    atlas->AddFontDefault();
    l = Loaded{};
  }
  atlas->ClearTexData();
}

nlohmann::json gui_font_json() {
  const Loaded& l = loaded();
  nlohmann::json j = {{"text", l.text},
                      {"cjk", l.cjk.empty() ? nlohmann::json() : nlohmann::json(l.cjk)},
                      {"size_px", l.text == "built-in" ? 13.0f : kSizePx}};
  ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  if (!atlas->IsBuilt() || atlas->Fonts.empty()) return j;
  const ImFont* font = atlas->Fonts[0];
  std::vector<ImWchar> probe = {0x00E9, 0x03A9, 0x0416, 0x2014, 0x201C, 0x2026, 0x20AC, 0xFFFD};
  if (!l.cjk.empty()) probe.insert(probe.end(), {0x4E2D, 0x3042});
  nlohmann::json missing = nlohmann::json::array();
  for (ImWchar c : probe)
    if (!font->FindGlyphNoFallback(c)) missing.push_back(utf8(c));
  j["missing"] = missing;
  return j;
}

}  // namespace smolvk::gui
