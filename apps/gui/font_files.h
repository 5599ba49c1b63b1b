#pragma once
// Which TrueType / OpenType files the GUI draws text with, found at run time among the fonts
// Debian packages install (no ImGui here: tests/apps checks the choice on fake folders).
//
// Known package paths rather than fontconfig: `fc-match` always answers with its best match,
// even one without Greek, Cyrillic or CJK glyphs, and its answer depends on the user's
// configuration; the files below are ones whose coverage we know, and their paths are fixed
// by their packages. Each is checked to start like a font file before it is taken.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace smolvk::gui {

struct FontCandidate {
  std::string relative_path;  // under a font root, e.g. "truetype/dejavu/DejaVuSans.ttf"
  std::string package;        // the Debian package that installs it
};

// In order of preference. Text: Latin, Latin-1, Greek, Cyrillic, punctuation and symbols.
const std::vector<FontCandidate>& text_font_candidates();
// CJK ideographs, kana and hangul (merged into the text font).
const std::vector<FontCandidate>& cjk_font_candidates();

struct FontFiles {
  std::optional<std::filesystem::path> text;  // none: ImGui's built-in font (ASCII only)
  std::optional<std::filesystem::path> cjk;
};

// /usr/share/fonts and /usr/local/share/fonts, where Debian's font packages install; or the
// folders in $SMOLVK_GUI_FONT_ROOTS (colon-separated) instead, when it is set.
std::vector<std::filesystem::path> default_font_roots();
// The first candidate (by preference) that is a font file under any root (roots in order);
// roots that do not exist and files that are not fonts are passed over.
FontFiles find_fonts(const std::vector<std::filesystem::path>& roots);
// A regular file of 12 bytes .. 64 MiB that starts with a TrueType, OpenType or collection tag.
bool looks_like_font_file(const std::filesystem::path& file);

}  // namespace smolvk::gui
