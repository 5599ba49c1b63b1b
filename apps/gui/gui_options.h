#pragma once
// smolvk-gui's command line.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/smolvlm.h"

namespace smolvk::gui {

struct GuiOptions {
  std::filesystem::path model_dir;          // --model, else the demo checkpoint
  std::optional<std::filesystem::path> image;
  std::optional<std::string> prompt;
  int max_new_tokens = 32;
  SamplingParams sampling;
  bool offscreen = false;
  std::optional<std::filesystem::path> script, screenshot, session;
  int width = 1280, height = 800;
  bool help = false;
};

// std::invalid_argument naming the bad option.
GuiOptions parse_gui_options(const std::vector<std::string>& argv);
extern const char* kGuiHelp;

}  // namespace smolvk::gui
