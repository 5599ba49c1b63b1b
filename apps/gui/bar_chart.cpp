#include "apps/gui/bar_chart.h"

#include <algorithm>
#include <cstdio>
#include <imgui.h>
#include <map>

namespace smolvk::gui {

std::vector<ShaderTime> top_shaders(const PhaseProfile& phase, size_t count) {
  std::map<std::string, ShaderTime> by;
  for (const auto& d : phase.dispatches) {
    auto& s = by[d.shader];
    s.shader = d.shader;
    s.ms += d.ns * 1e-6;
    ++s.dispatches;
  }
  std::vector<ShaderTime> out;
  for (auto& [k, v] : by) out.push_back(v);
  std::sort(out.begin(), out.end(), [](const ShaderTime& a, const ShaderTime& b) { return a.ms > b.ms; });
  if (out.size() > count) out.resize(count);
  return out;
}

void draw_shader_bars(const PhaseProfile& phase, size_t count) {
  double total = 0;
  for (const auto& d : phase.dispatches) total += d.ns * 1e-6;
  ImGui::Text("%s: %.3f ms GPU, %zu dispatches", phase.phase.c_str(), total, phase.dispatches.size());
  auto top = top_shaders(phase, count);
  const double longest = top.empty() ? 1.0 : std::max(top.front().ms, 1e-9);
  char label[160];
  for (const auto& s : top) {
    std::snprintf(label, sizeof label, "%s  %.3f ms (%d)", s.shader.c_str(), s.ms, s.dispatches);
    ImGui::ProgressBar(float(s.ms / longest), ImVec2(-1, 0), label);
  }
}

}  // namespace smolvk::gui
