// --offscreen: the same UI rendered into an image, no window, no swapchain, no display.
#include <chrono>
#include <cstdio>
#include <imgui.h>
#include <memory>
#include <thread>

#include "apps/gui/gui_session.h"
#include "apps/gui/offscreen_target.h"

namespace smolvk::gui {

int run_offscreen(const GuiOptions& options, std::vector<ScriptStep> script) {
  ValidationLog validation;
  ContextFactory make_context = [&validation] { return std::make_shared<Context>(validation.context_options()); };
  std::shared_ptr<Context> ctx = make_context();
  auto ui_ctx = make_ui_context(options, *ctx, validation.context_options());
  ImguiContext imgui_context;
  ImGuiIO& io = ImGui::GetIO();
  io.BackendPlatformName = "smolvk-offscreen";
  io.DisplaySize = ImVec2(float(options.width), float(options.height));
  int rc = 0;
  {
    GuiSession session(std::move(ctx), make_context, options, std::move(script));
    session.validation = &validation;
    session.ui_device = ui_ctx ? "own" : "shared";
    DrawContext draw(std::move(ui_ctx), session.app);
    auto target = std::make_unique<OffscreenTarget>(draw.get(), options.width, options.height);
    using Clock = std::chrono::steady_clock;
    const auto frame_budget = std::chrono::microseconds(16667);  // ≤ 60 frames/s, as a display would
    auto last = Clock::now();
    while (!session.script_finished()) {
      if (draw.changed()) {  // a reload made a new compute Context, which the frames share
        target.reset();
        draw.adopt();
        target = std::make_unique<OffscreenTarget>(draw.get(), options.width, options.height);
      }
      auto start = Clock::now();
      io.DeltaTime = std::max(1e-4f, std::chrono::duration<float>(start - last).count());
      last = start;
      auto req = session.build_frame(target->imgui());
      target->render(req.screenshot.has_value());
      if (req.screenshot) {
        write_png(*req.screenshot, target->width(), target->height(), target->pixels());
        session.screenshot = ScreenshotInfo{*req.screenshot, target->width(), target->height()};
      }
      session.frame_done(req);
      std::this_thread::sleep_until(start + frame_budget);
    }
    rc = session.finish();
  }
  return rc;
}

}  // namespace smolvk::gui
