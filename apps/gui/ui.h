#pragma once
// The window's panels, drawn with Dear ImGui once per frame from App's state. Buttons call
// the same App actions a script does.
#include <array>
#include <string>

#include "apps/gui/app_state.h"
#include "apps/gui/frame_stats.h"
#include "apps/gui/image_preview.h"

namespace smolvk::gui {

class Ui {
 public:
  Ui(App& app, ImagePreview& preview, FrameStats& stats);
  // Between ImGui::NewFrame() and ImGui::Render().
  void draw();
  // Keeps the text fields in step with actions that did not come from them (script, flags).
  void set_model_field(const std::string& dir);
  void set_image_field(const std::string& path);

 private:
  void model_panel(const Snapshot& s);
  void image_panel();
  void chat_panel(const Snapshot& s);
  void timing_panel(const Snapshot& s);
  void error_panel(const Snapshot& s);
  void press_stop();

  App& app_;
  ImagePreview& preview_;
  FrameStats& stats_;
  std::array<char, 1024> model_field_{}, image_field_{};
  std::array<char, 4096> prompt_field_{};
  std::string last_prompt_box_;
};

}  // namespace smolvk::gui
