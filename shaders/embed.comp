#version 450
// Embedding gather: out[t, h] = table[id[t], h] for the ids that fall in this dispatch's
// table chunk [v_begin, v_end). Ids are clamped to [0, vocab) first, so a bad id can never
// read out of bounds (the host checks ids and reports them before they get here).
// Defines: W_F32, W_F16 or W_BF16 (the table's dtype).
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
  uint T, H;
  uint vocab;
  uint v_begin, v_end;  // table rows this dispatch's binding holds
  uint table_off;       // element offset of row v_begin in the binding
  uint ids_off, out_off;  // element offsets of ids[0] and out[0, 0] in their bindings
} pc;

#if defined(W_F32)
layout(std430, binding = 1) readonly buffer Table { float table[]; };
float load_t(uint i) { return table[i]; }
#else
#include "half_words.glsl"
layout(std430, binding = 1) readonly buffer Table { uint table[]; };
float load_t(uint i) { return unpack2(table[i >> 1])[i & 1u]; }
#endif
layout(std430, binding = 0) readonly buffer Ids { int ids[]; };
layout(std430, binding = 2) writeonly buffer Out { float outp[]; };

void main() {
  const uint i = gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x) +
                 gl_GlobalInvocationID.x;
  if (i >= pc.T * pc.H) return;
  const uint t = i / pc.H, h = i % pc.H;
  const uint id = uint(clamp(ids[pc.ids_off + t], 0, int(pc.vocab) - 1));
  if (id < pc.v_begin || id >= pc.v_end) return;
  outp[pc.out_off + i] = load_t(pc.table_off + (id - pc.v_begin) * pc.H + h);
}
