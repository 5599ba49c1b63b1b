#include "apps/gui/ui.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <imgui.h>

#include "apps/gui/bar_chart.h"

namespace smolvk::gui {
namespace {

template <size_t N>
void copy_to(std::array<char, N>& field, const std::string& s) {
  std::snprintf(field.data(), N, "%s", s.c_str());
}

void place(float x, float y, float w, float h) {
  const ImVec2 d = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos({d.x * x, d.y * y}, ImGuiCond_Always);
  ImGui::SetNextWindowSize({d.x * w, d.y * h}, ImGuiCond_Always);
}

constexpr ImGuiWindowFlags kPanel = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                    ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus;
const ImVec4 kWarn(1.0f, 0.6f, 0.1f, 1.0f), kDim(0.65f, 0.65f, 0.7f, 1.0f), kError(1.0f, 0.35f, 0.3f, 1.0f);

std::string mib(uint64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", double(bytes) / (1 << 20));
  return b;
}

}  // namespace

Ui::Ui(App& app, ImagePreview& preview, FrameStats& stats) : app_(app), preview_(preview), stats_(stats) {}

void Ui::set_model_field(const std::string& dir) { copy_to(model_field_, dir); }
void Ui::set_image_field(const std::string& path) { copy_to(image_field_, path); }

void Ui::press_stop() {
  stats_.on_stop_pressed();
  app_.stop();
}

void Ui::draw() {
  if (app_.prompt_box != last_prompt_box_) {  // set by a script or --prompt
    copy_to(prompt_field_, app_.prompt_box);
    last_prompt_box_ = app_.prompt_box;
  }
  Snapshot s = app_.snapshot();
  model_panel(s);
  image_panel();
  chat_panel(s);
  timing_panel(s);
  error_panel(s);
}

void Ui::model_panel(const Snapshot& s) {
  place(0, 0, 0.36f, 0.25f);
  ImGui::Begin("Model", nullptr, kPanel);
  const ImGuiStyle& style = ImGui::GetStyle();
  const float buttons = ImGui::CalcTextSize("Load").x + ImGui::CalcTextSize("Reload model").x +
                        4 * style.FramePadding.x + 2 * style.ItemSpacing.x;
  ImGui::SetNextItemWidth(-buttons);
  ImGui::InputText("##model", model_field_.data(), model_field_.size());
  ImGui::BeginDisabled(s.loading || s.generating);
  ImGui::SameLine();
  if (ImGui::Button("Load")) app_.load_model(model_field_.data());
  ImGui::SameLine();
  // A fresh Vulkan context and the same model folder: the way out of a lost device.
  if (ImGui::Button("Reload model")) app_.reload_model();
  ImGui::EndDisabled();
  if (s.device_lost) ImGui::TextColored(kError, "GPU device lost: press Reload model");
  if (s.model) {
    ImGui::TextWrapped("%s", s.model->name.c_str());
    if (s.model->random_weights)
      ImGui::TextColored(kWarn, "demo checkpoint: RANDOM weights, the answers are gibberish");
    ImGui::Text("%.2f M parameters, %s of weights", double(s.model->parameters) / 1e6,
                mib(s.model->weight_bytes).c_str());
  }
  ImGui::Text("device: %s", s.device.c_str());
  ImGui::Text("GPU memory in use: %s", mib(s.device_bytes_in_use).c_str());
  ImGui::TextColored(kDim, "%s", s.status.c_str());
  ImGui::End();
}

void Ui::image_panel() {
  place(0, 0.25f, 0.36f, 0.75f);
  ImGui::Begin("Image", nullptr, kPanel);
  ImGui::SetNextItemWidth(-70);
  bool enter =
      ImGui::InputText("##image", image_field_.data(), image_field_.size(), ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  if (ImGui::Button("Open") || enter) app_.open_image(image_field_.data());
  ImGui::TextColored(kDim, "or drop an image file on the window");
  const auto& img = app_.image();
  if (img) {
    ImGui::Text("%s: %d x %d", img->path.filename().string().c_str(), img->image.width, img->image.height);
    if (img->grid) {
      if (img->grid->rows > 0)
        ImGui::Text("tiles: %d x %d + global = %d", img->grid->rows, img->grid->cols, img->tiles);
      else
        ImGui::Text("tiles: 1 (not split)");
      ImGui::Text("visual tokens: %d", img->visual_tokens);
    } else {
      ImGui::TextColored(kDim, "load a model to see its tile grid");
    }
    preview_.draw(*img, ImGui::GetContentRegionAvail());
  } else {
    ImGui::TextColored(kDim, "no image");
  }
  ImGui::End();
}

void Ui::chat_panel(const Snapshot& s) {
  place(0.36f, 0, 0.64f, 0.58f);
  ImGui::Begin("Chat", nullptr, kPanel);
  const float controls = ImGui::GetFrameHeightWithSpacing() * 5 + ImGui::GetTextLineHeight() * 3;
  ImGui::BeginChild("history", ImVec2(0, -controls), true);
  for (const auto& t : s.turns) {
    ImGui::TextColored(ImVec4(0.5f, 0.8f, 1.0f, 1.0f), "You%s:", t.with_image ? " [image]" : "");
    ImGui::SameLine();
    ImGui::TextWrapped("%s", t.prompt.c_str());
    ImGui::TextColored(ImVec4(0.6f, 1.0f, 0.6f, 1.0f), "Model:");
    ImGui::SameLine();
    ImGui::TextWrapped("%s", t.text.c_str());
    if (t.done)
      ImGui::TextColored(kDim, "%zu tokens, stopped: %s", t.output_ids.size(), t.stop_reason.c_str());
    else
      ImGui::TextColored(kDim, "%zu tokens...", t.output_ids.size());
  }
  if (s.generating) ImGui::SetScrollHereY(1.0f);
  ImGui::EndChild();

  ImGui::InputTextMultiline("##prompt", prompt_field_.data(), prompt_field_.size(),
                            ImVec2(-1, ImGui::GetTextLineHeight() * 3));
  app_.prompt_box = last_prompt_box_ = prompt_field_.data();
  const bool busy = s.loading || s.generating;
  ImGui::BeginDisabled(busy || !s.model);
  if (ImGui::Button("Generate")) app_.generate(prompt_field_.data());
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(!s.generating);
  if (ImGui::Button("Stop")) press_stop();
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(busy);
  if (ImGui::Button("Clear chat")) app_.clear_chat();
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(s.turns.empty());
  if (ImGui::Button("Copy answer")) ImGui::SetClipboardText(s.turns.back().text.c_str());
  ImGui::EndDisabled();

  Settings& st = app_.settings;
  ImGui::PushItemWidth(ImGui::GetContentRegionAvail().x * 0.25f);
  ImGui::SliderFloat("temperature", &st.sampling.temperature, 0.0f, 2.0f, "%.2f");
  ImGui::SameLine();
  ImGui::SliderFloat("top-p", &st.sampling.top_p, 0.01f, 1.0f, "%.2f");
  ImGui::InputInt("top-k", &st.sampling.top_k);
  st.sampling.top_k = std::max(0, st.sampling.top_k);
  ImGui::SameLine();
  ImGui::InputScalar("seed", ImGuiDataType_U64, &st.sampling.seed);
  ImGui::SliderInt("max new tokens", &st.max_new_tokens, 1, 1024);
  ImGui::PopItemWidth();
  ImGui::End();
}

void Ui::timing_panel(const Snapshot& s) {
  place(0.36f, 0.58f, 0.64f, 0.42f);
  ImGui::Begin("Timing", nullptr, kPanel);
  if (!s.turns.empty()) {
    const Turn& t = s.turns.back();
    ImGui::Text("tokens/s: %.1f   first token: %.1f ms   new tokens: %zu", t.tokens_per_s,
                t.done ? t.timings.first_token_ms : t.first_token_wall_ms, t.output_ids.size());
    if (t.done)
      ImGui::Text("image encode: %.1f ms (%d tiles)   prefill: %.1f ms (%d tokens)   decode: %.1f ms",
                  t.timings.encode_ms, t.timings.tiles, t.timings.prefill_ms, t.timings.prompt_tokens,
                  t.timings.decode_ms);
    else
      ImGui::TextColored(kDim, "image encode / prefill: measuring...");
  } else {
    ImGui::TextColored(kDim, "no generation yet");
  }
  ImGui::Text("UI: %.0f frames/s (%.0f while generating)", stats_.fps(), stats_.generating_fps());
  ImGui::Separator();
  // The last finished turn's per-shader GPU time (the streaming one has none yet).
  const Turn* done = nullptr;
  for (const auto& t : s.turns)
    if (t.done && !t.profile.empty()) done = &t;
  if (!done) {
    ImGui::TextColored(kDim, "GPU time per shader appears after the first answer");
  } else if (ImGui::BeginTable("phases", int(done->profile.size()), ImGuiTableFlags_BordersInnerV)) {
    for (const auto& p : done->profile) {
      ImGui::TableNextColumn();
      draw_shader_bars(p, 8);
    }
    ImGui::EndTable();
  }
  ImGui::End();
}

void Ui::error_panel(const Snapshot& s) {
  if (s.errors.empty()) return;
  const ImVec2 d = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos({d.x * 0.02f, d.y * 0.70f}, ImGuiCond_Always);
  ImGui::SetNextWindowSize({d.x * 0.5f, d.y * 0.28f}, ImGuiCond_Always);
  ImGui::PushStyleColor(ImGuiCol_TitleBg, ImVec4(0.6f, 0.1f, 0.1f, 1.0f));
  ImGui::PushStyleColor(ImGuiCol_TitleBgActive, ImVec4(0.7f, 0.1f, 0.1f, 1.0f));
  ImGui::PushStyleColor(ImGuiCol_WindowBg, ImVec4(0.2f, 0.05f, 0.05f, 0.95f));
  // Without NoBringToFrontOnFocus, unlike the panels: it opens above them and stays there.
  ImGui::Begin("Errors", nullptr, kPanel & ~ImGuiWindowFlags_NoBringToFrontOnFocus);
  for (const auto& e : s.errors) ImGui::TextWrapped("%s", e.c_str());
  if (s.device_lost) {
    ImGui::BeginDisabled(s.loading || s.generating);
    if (ImGui::Button("Reload model")) {
      app_.dismiss_errors();
      app_.reload_model();
    }
    ImGui::EndDisabled();
    ImGui::SameLine();
  }
  if (ImGui::Button("Dismiss")) app_.dismiss_errors();
  ImGui::End();
  ImGui::PopStyleColor(3);
}

}  // namespace smolvk::gui
