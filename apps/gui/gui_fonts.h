#pragma once
// The GUI's fonts in Dear ImGui's atlas: the wide-coverage TrueType files find_fonts() picks
// (apps/gui/font_files.h), with the glyph ranges the model's answers need, or ImGui's built-in
// font when there are none.
#include <nlohmann/json.hpp>

#include "apps/gui/font_files.h"

namespace smolvk::gui {

// Before the atlas is first built (right after ImGui::CreateContext). Falls back to the
// built-in font, saying so once on stderr, when `files` has no text font or it will not load.
void load_gui_fonts(const FontFiles& files);
// What was loaded: {"text": file or "built-in", "cjk": file or null, "size_px",
// "missing": the probe characters (é Ω Ж — “ … € � and, with CJK, 中 あ) without a glyph}.
nlohmann::json gui_font_json();

}  // namespace smolvk::gui
