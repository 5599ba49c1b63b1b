#include "apps/gui/session_json.h"

#include <fstream>
#include <stdexcept>

#include "apps/gui/bar_chart.h"

namespace smolvk::gui {
namespace {

nlohmann::json turn_json(const Turn& t) {
  const auto& tm = t.timings;
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& p : t.profile) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& s : top_shaders(p, 8))
      top.push_back({{"shader", s.shader}, {"ms", s.ms}, {"dispatches", s.dispatches}});
    double total = 0;
    for (const auto& d : p.dispatches) total += d.ns * 1e-6;
    phases[p.phase] = {{"gpu_ms", total}, {"dispatches", p.dispatches.size()}, {"top_shaders", top}};
  }
  return {{"prompt", t.prompt},
          {"with_image", t.with_image},
          {"input_ids", t.input_ids},
          {"output_ids", t.output_ids},
          {"text", t.text},
          {"stop_reason", t.stop_reason},
          {"timings",
           {{"encode_ms", tm.encode_ms},
            {"prefill_ms", tm.prefill_ms},
            {"decode_ms", tm.decode_ms},
            {"first_token_ms", tm.first_token_ms},
            {"first_token_wall_ms", t.first_token_wall_ms},
            {"tiles", tm.tiles},
            {"prompt_tokens", tm.prompt_tokens},
            {"new_tokens", tm.new_tokens},
            {"decode_tokens_per_s", t.tokens_per_s}}},
          {"gpu_profile", phases}};
}

}  // namespace

nlohmann::json session_json(App& app, const FrameStats& stats, const std::vector<std::string>& validation,
                            const std::optional<ScreenshotInfo>& screenshot) {
  Snapshot s = app.snapshot();
  nlohmann::json j;
  j["device"] = s.device;
  if (s.model)
    j["model"] = {{"dir", s.model->dir.string()},
                  {"name", s.model->name},
                  {"random_weights", s.model->random_weights},
                  {"parameters", s.model->parameters},
                  {"weight_bytes", s.model->weight_bytes}};
  if (const auto& img = app.image()) {
    j["image"] = {{"path", img->path.string()},
                  {"width", img->image.width},
                  {"height", img->image.height},
                  {"tiles", img->tiles},
                  {"visual_tokens", img->visual_tokens}};
    if (img->grid) j["image"]["grid"] = {{"rows", img->grid->rows}, {"cols", img->grid->cols}};
  }
  j["settings"] = {{"max_new_tokens", app.settings.max_new_tokens},
                   {"temperature", app.settings.sampling.temperature},
                   {"top_k", app.settings.sampling.top_k},
                   {"top_p", app.settings.sampling.top_p},
                   {"seed", app.settings.sampling.seed}};
  j["turns"] = nlohmann::json::array();
  for (const auto& t : s.turns) j["turns"].push_back(turn_json(t));
  if (!s.turns.empty()) {  // the last answer at the top level, as `smolvk run --json` has it
    const auto& last = j["turns"].back();
    for (const char* k : {"input_ids", "output_ids", "text", "stop_reason", "timings"}) j[k] = last[k];
  }
  j["errors"] = s.errors;
  j["device_lost"] = s.device_lost;
  j["reloads"] = s.reloads;
  j["status"] = s.status;
  j["frames"] = stats.to_json();
  j["validation_messages"] = validation;
  j["device_bytes_in_use"] = s.device_bytes_in_use;
  if (screenshot)
    j["screenshot"] = {
        {"path", screenshot->path.string()}, {"width", screenshot->width}, {"height", screenshot->height}};
  return j;
}

void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write the session file " + path.string());
  f << j.dump(2) << "\n";
  if (!f) throw std::runtime_error("cannot write the session file " + path.string());
}

}  // namespace smolvk::gui
