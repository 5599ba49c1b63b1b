#pragma once
// What both frame loops (offscreen and windowed) share: the validation log, the app and its
// UI, the optional script, and the per-frame sequence script → UI → draw data.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apps/gui/app_state.h"
#include "apps/gui/frame_stats.h"
#include "apps/gui/gui_options.h"
#include "apps/gui/image_preview.h"
#include "apps/gui/imgui_vulkan.h"
#include "apps/gui/script.h"
#include "apps/gui/session_json.h"
#include "apps/gui/ui.h"

namespace smolvk::gui {

// Validation-layer messages of the Context (with SMOLVK_VALIDATION=1), echoed to stderr.
class ValidationLog {
 public:
  ContextOptions context_options();  // from the environment, with the GUI's graphics queue
  std::vector<std::string> messages() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
};

// RAII for the Dear ImGui context (created before the session's image preview).
struct ImguiContext {
  ImguiContext();
  ~ImguiContext();
};

class GuiSession {
 public:
  // Starts loading the model on `ctx` and opens --image; ImGui's context must exist.
  // `make_context` makes the Context a reload starts afresh with.
  GuiSession(std::shared_ptr<Context> ctx, ContextFactory make_context, const GuiOptions& options,
             std::optional<std::vector<ScriptStep>> script);

  // One frame's CPU side: due script steps, the image preview's atlas, the UI → ImGui draw data.
  ScriptRunner::FrameRequest build_frame(ImguiVulkan& imgui);
  // After the frame is on screen: frame stats, and the session file if the script asked.
  void frame_done(const ScriptRunner::FrameRequest& req);
  bool script_finished() const { return runner_ && (runner_->done() || !runner_->failure().empty()); }
  // 0, or 3 when a script wait timed out (message on stderr). Writes --session.
  int finish();
  nlohmann::json json();

  App app;
  FrameStats stats;
  ImagePreview preview;
  Ui ui;
  ValidationLog* validation = nullptr;
  std::optional<ScreenshotInfo> screenshot;
  std::string ui_device;  // "shared" or "own", for the session file

 private:
  const GuiOptions& options_;
  std::optional<ScriptRunner> runner_;
};

// The Context frames are drawn with: `compute` itself, or a second one on the same physical
// device made with `ui_options` (see GuiOptions::ui_device). Null = use `compute`.
std::unique_ptr<Context> make_ui_context(const GuiOptions& options, Context& compute, const ContextOptions& ui_options);

// Which Context the frames are drawn with. With a UI device of its own, that one for good.
// Shared with the compute device, it is the App's compute Context, which "Reload model"
// replaces: the frame loop then destroys its Vulkan objects (target or swapchain, ImGui's
// backend), calls adopt() and builds them again on get().
class DrawContext {
 public:
  DrawContext(std::unique_ptr<Context> own, const App& app);
  Context& get() { return *current_; }
  bool own() const { return own_; }
  // The App has a new compute Context that the frames should move to.
  bool changed() const;
  // Lets the old Context go (destroying it when the App has, too) and takes the App's.
  void adopt();

 private:
  const App& app_;
  std::shared_ptr<Context> current_;
  bool own_;
};

int run_offscreen(const GuiOptions& options, std::vector<ScriptStep> script);
int run_windowed(const GuiOptions& options, std::optional<std::vector<ScriptStep>> script);

}  // namespace smolvk::gui
