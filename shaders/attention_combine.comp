#version 450
// Merges the key splits of attention.comp: with per-split running max m_s and sum l_s (log2
// domain) and unnormalised accumulator a_s,
//   out = Σ a_s·2^(m_s − M) / Σ l_s·2^(m_s − M),  M = max m_s.
// A row with no valid key anywhere (Σ l = 0) gets 0.
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer PO { float part[]; };  // [splits, rows, D]
layout(std430, binding = 1) readonly buffer ML { vec2 ml[]; };     // [splits, rows]
layout(std430, binding = 2) writeonly buffer O { float o[]; };     // [rows, D]
layout(push_constant) uniform Push { uint rows, D, splits; } pc;

void main() {
  const uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x +
                 gl_LocalInvocationID.x;
  if (i >= pc.rows * pc.D) return;
  const uint row = i / pc.D;
  float m = -1.0e30;
  for (uint s = 0; s < pc.splits; ++s) m = max(m, ml[s * pc.rows + row].x);
  float l = 0.0, a = 0.0;
  for (uint s = 0; s < pc.splits; ++s) {
    const vec2 x = ml[s * pc.rows + row];
    const float w = exp2(x.x - m);
    l += x.y * w;
    a += part[s * pc.rows * pc.D + i] * w;
  }
  o[i] = l > 0.0 ? a / l : 0.0;
}
