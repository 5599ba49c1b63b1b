// smolvk-gui: look at an image, ask about it, watch the answer and the shaders' GPU time.
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/gui/gui_session.h"

int main(int argc, char** argv) {
  using namespace smolvk::gui;
  GuiOptions options;
  std::optional<std::vector<ScriptStep>> script;
  try {
    options = parse_gui_options(std::vector<std::string>(argv + 1, argv + argc));
    if (options.help) {
      std::fputs(kGuiHelp, stdout);
      return 0;
    }
    if (options.script) script = parse_script(*options.script);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "smolvk-gui: %s\n", e.what());
    return 2;
  }
  try {
    if (options.offscreen) return run_offscreen(options, script ? *script : one_turn_script(options));
    return run_windowed(options, script);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smolvk-gui: error: %s\n", e.what());
    return 1;
  }
}
