#pragma once
// "Which shaders took the GPU time" for one phase: dispatch timings summed per shader
// variant, the largest first, drawn as labelled bars.
#include <string>
#include <vector>

#include "model/smolvlm.h"

namespace smolvk::gui {

struct ShaderTime {
  std::string shader;
  double ms = 0;
  int dispatches = 0;
};

std::vector<ShaderTime> top_shaders(const PhaseProfile& phase, size_t count);
// A heading with the phase total, then one bar per shader, in the current ImGui window.
void draw_shader_bars(const PhaseProfile& phase, size_t count);

}  // namespace smolvk::gui
