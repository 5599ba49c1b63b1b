#version 450
// ids[row] = argmax(logits[row, :]); ties go to the lowest index. One workgroup per row.
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer L { float logits[]; };
layout(std430, binding = 1) writeonly buffer Ids { int ids[]; };
layout(push_constant) uniform Push { uint rows, vocab; } pc;

#include "logits_reduce.glsl"

void main() {
  uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (row >= pc.rows) return;
  uint base = row * pc.vocab;
  float best = uintBitsToFloat(0xFF800000u);  // -inf
  uint bi = 0xFFFFFFFFu;
  for (uint i = gl_LocalInvocationID.x; i < pc.vocab; i += WG) {
    float v = logits[base + i];
    if (better(v, i, best, bi)) {
      best = v;
      bi = i;
    }
  }
  wg_argmax(best, bi);
  if (gl_LocalInvocationID.x == 0u) ids[row] = int(bi);
}
