#version 450
// A Llama MLP block for a decode step (M <= RB rows) in one dispatch:
//   h[m] += W_down · (silu(g) · u),  (g | u) = W_gate_up · (x[m] · rsqrt(mean(x[m]²) + eps) · nw)
// Workgroup w owns U intermediate units [w·U, w·U + U): it computes their gate and up values
// (2U dot products over H, RMSNorm folded in as in matmul_vec.comp), applies SwiGLU, multiplies
// by its U columns of W_down and adds the partial outputs into h with float atomics, so the
// gate_up and down projections need no round trip through memory and no second dispatch.
// x must not alias h: it is the residual stream as it was before this dispatch (every
// workgroup reads it while others are already adding into h). With add_x, h starts at zero
// and workgroup 0 adds x itself (the residual) with its partial sums.
#extension GL_EXT_shader_atomic_float : require
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;  // a multiple of 2U
layout(constant_id = 1) const uint RB = 1;    // rows (1 or 2)
layout(constant_id = 2) const uint U = 8;     // intermediate units per workgroup

layout(push_constant) uniform Push {
  uint M, H, I;
  uint x_off, h_off;            // f32 element offsets
  uint gu_off, down_off, nw_off;  // weight element offsets
  float eps;
  uint add_x;  // 1: workgroup 0 also adds x into h (h was zeroed: h = x + MLP(x))
} pc;

#if defined(W_F32)
#define WTYPE float
#define WTYPE4 vec4
#else
#define WTYPE uint
#define WTYPE4 uvec4
#endif
layout(std430, binding = 0) readonly buffer XBuf4 { vec4 x4[]; };
layout(std430, binding = 0) readonly buffer XBuf { float x[]; };
layout(std430, binding = 1) readonly buffer GU { WTYPE gu[]; };
layout(std430, binding = 1) readonly buffer GU4 { WTYPE4 gu4[]; };
layout(std430, binding = 2) buffer HBuf { float h[]; };
layout(std430, binding = 3) readonly buffer DW { WTYPE dw[]; };
layout(std430, binding = 3) readonly buffer DW4 { WTYPE4 dw4[]; };
layout(std430, binding = 4) readonly buffer NW { WTYPE nw[]; };
layout(std430, binding = 4) readonly buffer NW4 { WTYPE4 nw4[]; };

#include "tree_reduce.glsl"

#if !defined(W_F32)
#include "half_words.glsl"
#endif

// Element i of a weight binding (0: gate_up, 1: down, 2: norm weight).
float wload(uint which, uint i) {
#if defined(W_F32)
  return which == 0u ? gu[i] : which == 1u ? dw[i] : nw[i];
#else
  const uint word = which == 0u ? gu[i >> 1] : which == 1u ? dw[i >> 1] : nw[i >> 1];
  return unpack2(word)[i & 1u];
#endif
}
// Elements e..e+7 (e a multiple of 8) of a weight binding.
void wload8(uint which, uint e, out vec4 a, out vec4 b) {
#if defined(W_F32)
  const uint q = e >> 2;
  if (which == 0u) { a = gu4[q]; b = gu4[q + 1u]; }
  else if (which == 1u) { a = dw4[q]; b = dw4[q + 1u]; }
  else { a = nw4[q]; b = nw4[q + 1u]; }
#else
  unpack8(which == 0u ? gu4[e >> 3] : which == 1u ? dw4[e >> 3] : nw4[e >> 3], a, b);
#endif
}

const uint ROWS2 = 2u * U;    // gate and up rows of this workgroup
const uint GT = WG / ROWS2;   // invocations per row in phase 1
shared float red[2u * RB * WG];
shared float vals[ROWS2 * RB];
shared float act[U * RB];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint u0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * U;
  const uint H = pc.H, I = pc.I;
  if (u0 >= I) return;  // whole workgroup leaves together
  const bool vec_ok = (H & 7u) == 0u && ((pc.x_off | pc.h_off) & 3u) == 0u &&
                      ((pc.gu_off | pc.nw_off) & 7u) == 0u;

  // Phase 1: row g (gate unit u0 + g for g < U, up unit u0 + g − U after) by GT invocations.
  const uint g = tid / GT, part = tid % GT;
  const uint unit = g < U ? u0 + g : I + u0 + (g - U);
  const bool live = u0 + (g % U) < I;
  const uint wrow = pc.gu_off + min(unit, 2u * I - 1u) * H;
  float acc[RB], ss[RB];
  for (uint m = 0; m < RB; ++m) acc[m] = ss[m] = 0.0;
  if (vec_ok) {
    for (uint k = part * 8u; k < H; k += GT * 8u) {
      vec4 wa, wb, na, nb;
      wload8(0u, wrow + k, wa, wb);
      wload8(2u, pc.nw_off + k, na, nb);
      for (uint m = 0; m < RB; ++m) {
        if (m >= pc.M) break;
        const uint xi = (pc.x_off + m * H + k) >> 2;
        const vec4 xa = x4[xi], xb = x4[xi + 1u];
        ss[m] += dot(xa, xa) + dot(xb, xb);
        acc[m] += dot(wa, xa * na) + dot(wb, xb * nb);
      }
    }
  } else {
    for (uint k = part; k < H; k += GT) {
      const float wv = wload(0u, wrow + k), nv = wload(2u, pc.nw_off + k);
      for (uint m = 0; m < RB; ++m) {
        if (m >= pc.M) break;
        const float xv = x[pc.x_off + m * H + k];
        ss[m] += xv * xv;
        acc[m] += wv * xv * nv;
      }
    }
  }
  for (uint m = 0; m < RB; ++m) {
    red[(2u * m) * WG + tid] = acc[m];
    red[(2u * m + 1u) * WG + tid] = ss[m];
  }
  barrier();
  TREE_REDUCE(red, tid, part, GT, 2u * RB, WG, TREE_ADD)
  if (part == 0u)
    for (uint m = 0; m < RB; ++m) {
      const float rstd = inversesqrt(red[(2u * m + 1u) * WG + tid] / float(H) + pc.eps);
      vals[g * RB + m] = live ? red[(2u * m) * WG + tid] * rstd : 0.0;
    }
  barrier();
  if (tid < U * RB) {
    const float gv = vals[tid], uv = vals[U * RB + tid];
    act[tid] = gv / (1.0 + exp(-gv)) * uv;
  }
  barrier();

  // Phase 2: output j gets W_down[j, u0 .. u0 + U) · act.
  const bool vec_down = U == 8u && (I & 7u) == 0u && (pc.down_off & 7u) == 0u && u0 + U <= I;
  for (uint j = tid; j < H; j += WG) {
    float out_m[RB];
    for (uint m = 0; m < RB; ++m) out_m[m] = 0.0;
    const uint drow = pc.down_off + j * I + u0;
    if (vec_down) {
      vec4 wa, wb;
      wload8(1u, drow, wa, wb);
      for (uint m = 0; m < RB; ++m) {
        out_m[m] = dot(wa, vec4(act[0u * RB + m], act[1u * RB + m], act[2u * RB + m], act[3u * RB + m])) +
                   dot(wb, vec4(act[4u * RB + m], act[5u * RB + m], act[6u * RB + m], act[7u * RB + m]));
      }
    } else {
      for (uint u = 0; u < U && u0 + u < I; ++u) {
        const float wv = wload(1u, drow + u);
        for (uint m = 0; m < RB; ++m) out_m[m] += wv * act[u * RB + m];
      }
    }
    for (uint m = 0; m < RB; ++m) {
      if (m >= pc.M) break;
      if (pc.add_x != 0u && u0 == 0u) out_m[m] += x[pc.x_off + m * H + j];
      atomicAdd(h[pc.h_off + m * H + j], out_m[m]);
    }
  }
}
