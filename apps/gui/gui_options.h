#pragma once
// smolvk-gui's command line.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/smolvlm.h"

namespace smolvk::gui {

struct GuiOptions {
  std::filesystem::path model_dir;  // --model, else the demo checkpoint
  std::optional<std::filesystem::path> image;
  std::optional<std::string> prompt;
  int max_new_tokens = 32;
  SamplingParams sampling;
  bool offscreen = false;
  std::optional<std::filesystem::path> script, screenshot, session;
  int width = 1280, height = 800;
  // Where frames are drawn: "shared" = the inference VkDevice and queue; "own" = a second
  // VkDevice on the same physical device (its own queue); "auto" = own on CPU drivers
  // (lavapipe has one queue, which runs submissions one after another, so a frame would wait
  // for each whole compute submission), shared elsewhere.
  std::string ui_device = "auto";
  bool help = false;
};

// std::invalid_argument naming the bad option.
GuiOptions parse_gui_options(const std::vector<std::string>& argv);
extern const char* kGuiHelp;

}  // namespace smolvk::gui
