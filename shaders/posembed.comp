#version 450
// x[n, s, :] += table[ids[n, s], :]; ids outside the table are clamped (never read out of
// bounds). The table is f32, f16 (WEIGHT_F16) or bf16 (WEIGHT_BF16), bound as words.
#extension GL_GOOGLE_include_directive : require
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer T { uint t_words[]; };
layout(std430, binding = 2) readonly buffer Ids { int ids[]; };
layout(push_constant) uniform Push {
  uint total;  // N * S * H
  uint hidden, table_rows, t_off;
} pc;

#define WORDS t_words
#include "norm_weights.glsl"

void main() {
  uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x;
  if (i >= pc.total) return;
  uint tok = i / pc.hidden, h = i - tok * pc.hidden;
  int id = clamp(ids[tok], 0, int(pc.table_rows) - 1);
  x[i] += load_elem(pc.t_off + uint(id) * pc.hidden + h);
}
