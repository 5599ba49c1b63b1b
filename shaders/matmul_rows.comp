#version 450
// Matmul for a few rows (2 < M <= 64, e.g. batched decode): Y[m, n] = sum_k X[m, k] * W[n, k]
// (+ bias, + Y). A workgroup owns all M rows (RB >= M, padded) and CPW output columns.
// Invocation t computes row t % RB for the columns t / RB + i·(WG / RB), so no reduction is
// needed: the X rows are staged through shared memory in KC-wide chunks (read from L2 once
// per workgroup instead of once per column), and each weight load is the same address for
// the RB invocations of a column (a broadcast).
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;  // a multiple of RB
layout(constant_id = 1) const uint RB = 32;   // rows per pass (power of two)
layout(constant_id = 2) const uint CPW = 16;  // columns per workgroup (a multiple of WG / RB)
layout(constant_id = 3) const uint KC = 128;  // K elements per staged chunk (multiple of 8)

#include "matmul_common.glsl"

#if defined(W_F32)
layout(std430, binding = 1) readonly buffer WBuf4 { vec4 w4[]; };
void load8_w(uint e, out vec4 a, out vec4 b) { a = w4[e >> 2]; b = w4[(e >> 2) + 1u]; }
#else
layout(std430, binding = 1) readonly buffer WBuf4 { uvec4 w4[]; };
void load8_w(uint e, out vec4 a, out vec4 b) { unpack8(w4[e >> 3], a, b); }
#endif

const uint CG = WG / RB;     // column groups
const uint CPT = CPW / CG;   // columns per invocation
const uint LDX = KC + 4;     // padded row pitch: neighbouring rows start on other banks
shared vec4 xs[RB * LDX / 4];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint r = tid % RB, cg = tid / RB;
  const uint n0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * CPW;
  if (n0 >= pc.N) return;  // whole workgroup leaves together
  const uint K = pc.K;
#if defined(W_F32)
  const bool vec_ok = (K & 7u) == 0u && (pc.w_off & 3u) == 0u;
#else
  const bool vec_ok = (K & 7u) == 0u && (pc.w_off & 7u) == 0u;
#endif

  for (uint m0 = 0; m0 < pc.M; m0 += RB) {
    const uint rows = min(RB, pc.M - m0);
    float acc[CPT];
    [[unroll]] for (uint i = 0; i < CPT; ++i) acc[i] = 0.0;

    for (uint k0 = 0; k0 < K; k0 += KC) {
      barrier();  // the previous chunk has been read
      for (uint e = tid; e < RB * KC; e += WG) {
        const uint rr = e / KC, kk = e % KC;
        const float v = rr < rows && k0 + kk < K ? x[pc.x_off + (m0 + rr) * K + k0 + kk] : 0.0;
        xs[(rr * LDX + kk) / 4][kk % 4] = v;
      }
      barrier();
      const uint kn = min(KC, K - k0);
      [[unroll]] for (uint i = 0; i < CPT; ++i) {
        const uint n = n0 + cg + i * CG;
        if (n >= pc.N) break;
        const uint wrow = pc.w_off + n * K + k0;
        float s = 0.0;
        if (vec_ok) {
          for (uint kk = 0; kk < kn; kk += 8u) {
            vec4 wa, wb;
            load8_w(wrow + kk, wa, wb);
            const uint xi = (r * LDX + kk) / 4;
            s += dot(wa, xs[xi]) + dot(wb, xs[xi + 1u]);
          }
        } else {
          for (uint kk = 0; kk < kn; ++kk) s += load_w(wrow + kk) * xs[(r * LDX + kk) / 4][kk % 4];
        }
        acc[i] += s;
      }
    }
    if (r < rows)
      [[unroll]] for (uint i = 0; i < CPT; ++i) {
        const uint n = n0 + cg + i * CG;
        if (n < pc.N) store_y(m0 + r, n, acc[i]);
      }
  }
}
