#pragma once
// The session as JSON: model, image and its tiles, every turn (input ids, output ids, text,
// timings, per-shader GPU time), errors shown, whether the device is lost and how many reloads
// made a new Context, the font, frame rate, validation messages.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/gui/app_state.h"
#include "apps/gui/frame_stats.h"

namespace smolvk::gui {

struct ScreenshotInfo {
  std::filesystem::path path;
  int width = 0, height = 0;
};

nlohmann::json session_json(App& app, const FrameStats& stats, const std::vector<std::string>& validation,
                            const std::optional<ScreenshotInfo>& screenshot);
void write_json(const std::filesystem::path& path, const nlohmann::json& j);

}  // namespace smolvk::gui
