#include "apps/gui/gui_session.h"

#include <cstdio>
#include <imgui.h>
#include <imgui_impl_vulkan.h>
#include <stdexcept>

#include "apps/gui/gui_fonts.h"

namespace smolvk::gui {

ContextOptions ValidationLog::context_options() {
  ContextOptions o = ContextOptions::from_env();
  o.graphics_queue = true;
  o.on_validation_message = [this](const std::string& m) {
    std::fprintf(stderr, "smolvk-gui: validation: %s\n", m.c_str());
    std::lock_guard lock(mu_);
    messages_.push_back(m);
  };
  return o;
}

std::vector<std::string> ValidationLog::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

std::unique_ptr<Context> make_ui_context(const GuiOptions& options, Context& compute,
                                         const ContextOptions& ui_options) {
  bool own = options.ui_device == "own" || (options.ui_device == "auto" && compute.caps().device_type == "cpu");
  if (!own) return nullptr;
  ContextOptions o = ui_options;
  o.device = std::to_string(compute.caps().index);  // the same physical device
  o.cache_dir = "none";                             // draws no compute: no pipeline cache to share
  return std::make_unique<Context>(o);
}

ImguiContext::ImguiContext() {
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the layout is fixed; write no imgui.ini
  ImGui::StyleColorsDark();
  load_gui_fonts(find_fonts(default_font_roots()));  // any Unicode the model emits, where a font has it
}
ImguiContext::~ImguiContext() { ImGui::DestroyContext(); }

DrawContext::DrawContext(std::unique_ptr<Context> own, const App& app)
    : app_(app),
      current_(own ? std::shared_ptr<Context>(std::move(own)) : app.context()),
      own_(current_ != app.context()) {
  if (!current_) throw std::invalid_argument("DrawContext: no Context to draw with");
}

bool DrawContext::changed() const {
  if (own_) return false;
  auto c = app_.context();
  return c && c != current_;
}

void DrawContext::adopt() {
  if (own_) return;
  auto c = app_.context();
  if (!c) return;
  current_ = std::move(c);  // the old one is destroyed here unless something else holds it
}

GuiSession::GuiSession(std::shared_ptr<Context> ctx, ContextFactory make_context, const GuiOptions& options,
                       std::optional<std::vector<ScriptStep>> script)
    : app(std::move(ctx), std::move(make_context)), ui(app, preview, stats), options_(options) {
  if (script) runner_.emplace(std::move(*script));
  app.settings.max_new_tokens = options.max_new_tokens;
  app.settings.sampling = options.sampling;
  ui.set_model_field(options.model_dir.string());
  app.load_model(options.model_dir);
  if (options.image) {
    ui.set_image_field(options.image->string());
    app.open_image(*options.image);
  }
  if (options.prompt) app.prompt_box = *options.prompt;
}

ScriptRunner::FrameRequest GuiSession::build_frame(ImguiVulkan& imgui) {
  ScriptRunner::FrameRequest req;
  if (runner_) req = runner_->advance(app, ui, stats);
  app.tick();
  preview.show(app.image() ? &*app.image() : nullptr);
  if (preview.take_dirty()) imgui.upload_fonts();
  ImGui_ImplVulkan_NewFrame();
  ImGui::NewFrame();
  ui.draw();
  ImGui::Render();
  return req;
}

void GuiSession::frame_done(const ScriptRunner::FrameRequest& req) {
  stats.on_frame(app.generating());
  if (req.session) write_json(*req.session, json());
}

nlohmann::json GuiSession::json() {
  auto j = session_json(app, stats, validation->messages(), screenshot);
  j["ui_device"] = ui_device;
  j["font"] = gui_font_json();
  return j;
}

int GuiSession::finish() {
  int rc = 0;
  if (runner_ && !runner_->failure().empty()) {
    std::fprintf(stderr, "smolvk-gui: script stopped: %s\n", runner_->failure().c_str());
    app.add_error(runner_->failure());
    app.stop();
    rc = 3;
  }
  if (options_.session) write_json(*options_.session, json());
  return rc;
}

}  // namespace smolvk::gui
