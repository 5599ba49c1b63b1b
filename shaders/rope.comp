#version 450
// RoPE in the HF rotate-half convention. For pair p < D/2 of a head, with (c, s) the table's
// cos/sin of the token's position:
//   y[p] = x[p]·c − x[p + D/2]·s,   y[p + D/2] = x[p + D/2]·c + x[p]·s
// One invocation per (token, head, pair). `precise` keeps the products and the sum separately
// rounded, as transformers computes q·cos + rotate_half(q)·sin.
// Default: x [rows, H, D] rotated in place.
// QKV_WRITE: x is a fused qkv row [Hq q heads | Hkv k heads | Hkv v heads]; rotated q goes to
//   q_out [rows, Hq, D], rotated k and plain v to the caches [B, Hkv, C, D] at row
//   (b, head, position) with b = token / T.
// Tokens whose position is outside the table (or the cache) are left unwritten; the host
// checks positions it knows.
layout(local_size_x_id = 0) in;
#ifdef QKV_WRITE
layout(std430, binding = 0) readonly buffer X { float x[]; };
#else
layout(std430, binding = 0) buffer X { float x[]; };
#endif
layout(std430, binding = 1) readonly buffer Pos { int pos[]; };
layout(std430, binding = 2) readonly buffer Tab { vec2 tab[]; };
#ifdef QKV_WRITE
layout(std430, binding = 3) writeonly buffer QO { float qo[]; };
layout(std430, binding = 4) writeonly buffer KC { float kc[]; };
layout(std430, binding = 5) writeonly buffer VC { float vc[]; };
#endif

layout(push_constant) uniform Push {
  uint rows;        // tokens
  uint heads;       // in place: H; QKV_WRITE: Hq + 2·Hkv
  uint half_d;      // D / 2
  uint table_rows;  // positions the table holds
  uint T, Hq, Hkv, C;  // QKV_WRITE only
} pc;

void main() {
  const uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x +
                 gl_LocalInvocationID.x;
  if (i >= pc.rows * pc.heads * pc.half_d) return;
  const uint p = i % pc.half_d;
  const uint h = (i / pc.half_d) % pc.heads;
  const uint row = i / (pc.half_d * pc.heads);
  const uint D = 2u * pc.half_d;
  const int position = pos[row];
  if (position < 0 || uint(position) >= pc.table_rows) return;

  const uint src = (row * pc.heads + h) * D + p;
  const float x1 = x[src], x2 = x[src + pc.half_d];
  const vec2 cs = tab[uint(position) * pc.half_d + p];
  precise float a = x1 * cs.x;
  precise float b = x2 * cs.y;
  precise float c = x2 * cs.x;
  precise float e = x1 * cs.y;
  precise float y1 = a - b;
  precise float y2 = c + e;

#ifdef QKV_WRITE
  if (h < pc.Hq) {
    const uint dst = (row * pc.Hq + h) * D + p;
    qo[dst] = y1;
    qo[dst + pc.half_d] = y2;
    return;
  }
  if (uint(position) >= pc.C) return;
  const uint b_row = row / pc.T;
  if (h < pc.Hq + pc.Hkv) {
    const uint dst = ((b_row * pc.Hkv + (h - pc.Hq)) * pc.C + uint(position)) * D + p;
    kc[dst] = y1;
    kc[dst + pc.half_d] = y2;
  } else {
    const uint dst = ((b_row * pc.Hkv + (h - pc.Hq - pc.Hkv)) * pc.C + uint(position)) * D + p;
    vc[dst] = x1;
    vc[dst + pc.half_d] = x2;
  }
#else
  x[src] = y1;
  x[src + pc.half_d] = y2;
#endif
}
