#pragma once
// Scripted sessions (tests, screenshots): a text file, one step a line, that drives the same
// App actions as the window's buttons. Steps:
//   model DIR            load another checkpoint        image PATH     open an image
//   prompt TEXT          fill the prompt box            set KEY VALUE  max_new_tokens,
//   generate             press Generate                   temperature, top_k, top_p, seed
//   pause_after_token N  hold the worker after token N of the next answer (deterministic Stop)
//   wait_tokens N        wait until N tokens streamed   stop           press Stop
//   wait_done [SECONDS]  wait for loads / generation (default 300 s)
//   frames N             let N frames pass              clear          press Clear chat
//   screenshot PATH      (offscreen) write the next settled frame as PNG
//   session PATH         write the session JSON now
//   reset_frame_stats    start the frame-rate figures afresh (e.g. after a warm-up turn)
//   reload               press Reload model (a new Vulkan context, the model loaded again)
//   fault device_lost_after:N   the N-th queue submit from now reports VK_ERROR_DEVICE_LOST
//                        (Context::inject_fault; waits for loads / generation first)
// Blank lines and lines starting with # are skipped; paths are relative to the current folder.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "apps/gui/app_state.h"
#include "apps/gui/frame_stats.h"
#include "apps/gui/gui_options.h"
#include "apps/gui/ui.h"

namespace smolvk::gui {

struct ScriptStep {
  std::string where;  // "FILE:LINE" for messages
  std::string command, arg;
};

// std::invalid_argument naming FILE:LINE and the step for an unknown or malformed step.
std::vector<ScriptStep> parse_script(const std::filesystem::path& file);
std::vector<ScriptStep> parse_script_text(const std::string& text, const std::string& source);
// What the flags ask for without --script: [generate once, wait,] screenshot.
std::vector<ScriptStep> one_turn_script(const GuiOptions& options);

class ScriptRunner {
 public:
  explicit ScriptRunner(std::vector<ScriptStep> steps) : steps_(std::move(steps)) {}

  struct FrameRequest {
    std::optional<std::filesystem::path> screenshot;  // read this frame back and write it
    std::optional<std::filesystem::path> session;     // write the session JSON after this frame
  };
  // Runs every step that can run now (once per frame, before the UI is drawn).
  FrameRequest advance(App& app, Ui& ui, FrameStats& stats);
  bool done() const { return next_ >= steps_.size(); }
  // A wait that ran out of time (the script stops there).
  const std::string& failure() const { return failure_; }

 private:
  bool run(const ScriptStep& s, App& app, Ui& ui, FrameStats& stats, FrameRequest& out);
  std::vector<ScriptStep> steps_;
  size_t next_ = 0;
  std::optional<std::chrono::steady_clock::time_point> step_started_;
  int step_frames_ = 0;
  std::string failure_;
};

}  // namespace smolvk::gui
