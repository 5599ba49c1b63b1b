#version 450
// Mat-vec family for few rows (decode): Y[m, n] = sum_k X'[m, k] * W[n, k] (+ bias, + Y).
// X' is X, or with flag 8 silu(X[m, k]) * X[m, K + k] (a fused SwiGLU over gate|up rows),
// and with flag 4 additionally RMS-normalised: X'[m, k] * rsqrt(mean_k(X'²) + eps) * nw[k]
// (a fused RMSNorm; the sum of squares is gathered from the same loads as the dot product).
//
// Used for M <= 2 and for every fused call (M <= 64; matmul_vec_rows.comp takes plain
// matmuls with more rows). A workgroup owns CPW output columns and all M rows (RB rows per
// pass), so each weight element is read once. With USE_SUBGROUP every subgroup is a lane
// group that owns COLS columns at a time and splits K over its lanes with 16-byte loads (8
// weights per load), reducing with subgroupAdd: no shared memory, no barriers. Without it
// the whole workgroup is one lane group reducing through a shared-memory tree.
#extension GL_GOOGLE_include_directive : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;   // threads (a power of two)
layout(constant_id = 1) const uint RB = 1;    // rows of X per pass
layout(constant_id = 2) const uint COLS = 1;  // output columns per lane group per pass
layout(constant_id = 3) const uint CPW = 1;   // output columns per workgroup

layout(push_constant) uniform Push {
  uint M, N, K;
  uint x_off;     // element offset of X row 0 in its binding
  uint x_stride;  // elements between X rows (K, or 2K for the SwiGLU input)
  uint w_off;     // element offset of W row 0
  uint b_off;     // element offset of bias[0]
  uint nw_off;    // element offset of the RMSNorm weight's element 0
  uint y_off;     // element offset of Y[0, 0] (the first written column)
  uint y_stride;  // elements between Y rows
  uint flags;     // 1: bias, 2: accumulate into Y, 4: RMSNorm of X rows, 8: SwiGLU input,
                  // 16: RoPE + KV-cache write (see below), 32: also write Y to binding 5,
                  // 64: GELU (tanh) after the bias
  float eps;      // RMSNorm epsilon
  uint half_d, Hq, Hkv, T, C, table_rows;  // flag 16 only
  uint yc_off;  // flag 32: element offset of the copy of Y[0, 0] in binding 5
} pc;

#if defined(W_F32)
#define WTYPE float
#define WTYPE4 vec4
#elif defined(W_F16) || defined(W_BF16)
#define WTYPE uint
#define WTYPE4 uvec4
#else
#error "define W_F32, W_F16 or W_BF16"
#endif

// Scalar and 16-byte views of the same bindings.
layout(std430, binding = 0) readonly buffer XBuf { float x[]; };
layout(std430, binding = 0) readonly buffer XBuf4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer WBuf { WTYPE w[]; };
layout(std430, binding = 1) readonly buffer WBuf4 { WTYPE4 w4[]; };
layout(std430, binding = 2) buffer YBuf { float y[]; };
layout(std430, binding = 3) readonly buffer BBuf { WTYPE bias[]; };
layout(std430, binding = 4) readonly buffer NBuf { WTYPE nw[]; };
layout(std430, binding = 4) readonly buffer NBuf4 { WTYPE4 nw4[]; };
// Flag 16 (fused qkv projection of a Llama layer, W's rows = [Hq q | Hkv k | Hkv v] heads of
// D = 2·half_d): Y is q_out [M, Hq, D] and gets q rotated by RoPE; rotated k and plain v go
// to this layer's caches [B, Hkv, C, D] at (m / T, head, positions[m]). Lane groups own the
// column pairs (p, p + half_d) of a head (COLS = 2), so a pair's rotation needs no exchange.
// Rounded like rope.comp. Binding 3 (no bias then) is the v cache.
layout(std430, binding = 3) writeonly buffer VCache { float vcache[]; };
layout(std430, binding = 5) readonly buffer Pos { int positions[]; };
layout(std430, binding = 6) readonly buffer Tab { vec2 rope_tab[]; };
layout(std430, binding = 7) writeonly buffer KCache { float kcache[]; };

const uint F_BIAS = 1u, F_ACC = 2u, F_NORM = 4u, F_SWIGLU = 8u, F_ROPE = 16u, F_COPY = 32u, F_GELU = 64u;
layout(std430, binding = 5) writeonly buffer YCopy { float ycopy[]; };

#if defined(W_F32)
float load_w(uint i) { return w[i]; }
float load_b(uint i) { return bias[i]; }
float load_nw(uint i) { return nw[i]; }
// Elements e..e+7 (e a multiple of 8): two 16-byte loads.
void load8_w(uint e, out vec4 a, out vec4 b) { a = w4[e >> 2]; b = w4[(e >> 2) + 1u]; }
void load8_nw(uint e, out vec4 a, out vec4 b) { a = nw4[e >> 2]; b = nw4[(e >> 2) + 1u]; }
#else
#include "half_words.glsl"
float load_w(uint i) { return unpack2(w[i >> 1])[i & 1u]; }
float load_b(uint i) { return unpack2(bias[i >> 1])[i & 1u]; }
float load_nw(uint i) { return unpack2(nw[i >> 1])[i & 1u]; }
// Elements e..e+7 (e a multiple of 8): one 16-byte load.
void load8_w(uint e, out vec4 a, out vec4 b) { unpack8(w4[e >> 3], a, b); }
void load8_nw(uint e, out vec4 a, out vec4 b) { unpack8(nw4[e >> 3], a, b); }
#endif

float silu_mul(float g, float u) { return g / (1.0 + exp(-g)) * u; }
vec4 silu_mul(vec4 g, vec4 u) { return g / (1.0 + exp(-g)) * u; }

#include "activation.glsl"
#include "tree_reduce.glsl"

void store_y(uint m, uint n, float acc) {
  if ((pc.flags & F_BIAS) != 0u) acc += load_b(pc.b_off + n);
  if ((pc.flags & F_GELU) != 0u) acc = gelu_tanh(acc);
  const uint yi = pc.y_off + m * pc.y_stride + n;
  if ((pc.flags & F_ACC) != 0u) acc += y[yi];
  y[yi] = acc;
  if ((pc.flags & F_COPY) != 0u) ycopy[pc.yc_off + m * pc.y_stride + n] = acc;
}

// Flag 16: the weight row of logical column n (pairs (2i, 2i + 1) are a head's (p, p + D/2)).
uint rope_column(uint n) {
  const uint pair = n >> 1, head = pair / pc.half_d;
  return head * 2u * pc.half_d + pair % pc.half_d + (n & 1u) * pc.half_d;
}

// Flag 16: stores the pair (x1, x2) = row m's outputs at columns (p, p + half_d) of `head`.
void store_rope(uint m, uint n, float x1, float x2) {
  const uint pair = n >> 1, head = pair / pc.half_d, p = pair % pc.half_d, D = 2u * pc.half_d;
  const int position = positions[m];
  if (position < 0 || uint(position) >= pc.table_rows) return;
  const vec2 cs = rope_tab[uint(position) * pc.half_d + p];
  precise float a = x1 * cs.x;
  precise float b = x2 * cs.y;
  precise float c = x2 * cs.x;
  precise float e = x1 * cs.y;
  precise float y1 = a - b;
  precise float y2 = c + e;
  if (head < pc.Hq) {
    const uint dst = pc.y_off + (m * pc.Hq + head) * D + p;
    y[dst] = y1;
    y[dst + pc.half_d] = y2;
    return;
  }
  if (uint(position) >= pc.C) return;
  const uint b_row = m / pc.T;
  if (head < pc.Hq + pc.Hkv) {
    const uint dst = ((b_row * pc.Hkv + head - pc.Hq) * pc.C + uint(position)) * D + p;
    kcache[dst] = y1;
    kcache[dst + pc.half_d] = y2;
  } else {
    const uint dst = ((b_row * pc.Hkv + head - pc.Hq - pc.Hkv) * pc.C + uint(position)) * D + p;
    vcache[dst] = x1;
    vcache[dst + pc.half_d] = x2;
  }
}

#ifdef USE_SUBGROUP
float group_sum(float v) { return subgroupAdd(v); }
#else
shared float red[(COLS + 1u) * RB * WG];
#endif

void main() {
  const uint n_base = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * CPW;
  if (n_base >= pc.N) return;  // whole workgroup leaves together
#ifdef USE_SUBGROUP
  // K is split over the lanes that actually run: a subgroup may have fewer active invocations
  // than gl_SubgroupSize (a workgroup smaller than a subgroup, or drivers that run subgroups
  // partly empty unless full subgroups are required; lavapipe at 32 and 64 lanes runs 16 even
  // then), so the stride is the active count and a lane's part is its rank among them.
  const uint lane = subgroupExclusiveAdd(1u), GS = subgroupAdd(1u);
  const uint grp = gl_SubgroupID, ngrp = gl_NumSubgroups;
#else
  const uint lane = gl_LocalInvocationID.x, GS = WG, grp = 0u, ngrp = 1u;
#endif
  const uint K = pc.K;
  const bool norm = (pc.flags & F_NORM) != 0u, swiglu = (pc.flags & F_SWIGLU) != 0u;
  const bool rope = (pc.flags & F_ROPE) != 0u;
  // The 16-byte path needs every row and every 8-element block to start on a 16-byte word.
  const bool vec_ok = (K & 7u) == 0u && ((pc.x_off | pc.x_stride) & 3u) == 0u &&
                      (pc.w_off & 7u) == 0u && (!norm || (pc.nw_off & 7u) == 0u);

  for (uint m0 = 0u; m0 < pc.M; m0 += RB) {
    const uint rows = min(RB, pc.M - m0);
    const uint xrow0 = pc.x_off + m0 * pc.x_stride;
    // Uniform within a lane group (its id), so subgroupAdd below sees the whole subgroup.
    for (uint c0 = grp * COLS; c0 < CPW; c0 += ngrp * COLS) {
      if (n_base + c0 >= pc.N) break;
      float acc[COLS * RB];
      float ss[RB];
      for (uint i = 0u; i < COLS * RB; ++i) acc[i] = 0.0;
      for (uint r = 0u; r < RB; ++r) ss[r] = 0.0;
      uint wrow[COLS];
      for (uint c = 0u; c < COLS; ++c) {
        const uint n = min(n_base + c0 + c, pc.N - 1u);
        wrow[c] = pc.w_off + (rope ? rope_column(n) : n) * K;
      }

      if (vec_ok) {
        for (uint k = lane * 8u; k < K; k += GS * 8u) {
          vec4 wa[COLS], wb[COLS];
          for (uint c = 0u; c < COLS; ++c) load8_w(wrow[c] + k, wa[c], wb[c]);
          vec4 na = vec4(1.0), nb = vec4(1.0);
          if (norm) load8_nw(pc.nw_off + k, na, nb);
          for (uint r = 0u; r < RB; ++r) {
            if (r >= rows) continue;
            const uint xi = (xrow0 + r * pc.x_stride + k) >> 2;
            vec4 xa = x4[xi], xb = x4[xi + 1u];
            if (swiglu) {
              const uint ui = xi + (K >> 2);
              xa = silu_mul(xa, x4[ui]);
              xb = silu_mul(xb, x4[ui + 1u]);
            }
            if (norm) {
              ss[r] += dot(xa, xa) + dot(xb, xb);
              xa *= na;
              xb *= nb;
            }
            for (uint c = 0u; c < COLS; ++c) acc[c * RB + r] += dot(wa[c], xa) + dot(wb[c], xb);
          }
        }
      } else {
        for (uint k = lane; k < K; k += GS) {
          const float nk = norm ? load_nw(pc.nw_off + k) : 1.0;
          for (uint r = 0u; r < RB; ++r) {
            if (r >= rows) continue;
            const uint xi = xrow0 + r * pc.x_stride + k;
            float xv = swiglu ? silu_mul(x[xi], x[xi + K]) : x[xi];
            if (norm) {
              ss[r] += xv * xv;
              xv *= nk;
            }
            for (uint c = 0u; c < COLS; ++c) acc[c * RB + r] += load_w(wrow[c] + k) * xv;
          }
        }
      }

#ifdef USE_SUBGROUP
      float rstd[RB];
      for (uint r = 0u; r < RB; ++r)
        rstd[r] = norm ? inversesqrt(group_sum(ss[r]) / float(K) + pc.eps) : 1.0;
      if (rope) {
        for (uint r = 0u; r < RB; ++r) {
          const float s1 = group_sum(acc[r]), s2 = group_sum(acc[RB + r]);
          const uint n = n_base + c0;
          if (lane == r % GS && n < pc.N && r < rows) store_rope(m0 + r, n, s1 * rstd[r], s2 * rstd[r]);
        }
      } else {
        for (uint i = 0u; i < COLS * RB; ++i) {
          const float s = group_sum(acc[i]);
          const uint n = n_base + c0 + i / RB, r = i % RB;
          if (lane == i % GS && n < pc.N && r < rows) store_y(m0 + r, n, s * rstd[r]);
        }
      }
#else
      for (uint i = 0u; i < COLS * RB; ++i) red[i * WG + lane] = acc[i];
      for (uint r = 0u; r < RB; ++r) red[(COLS * RB + r) * WG + lane] = ss[r];
      barrier();
      TREE_REDUCE(red, lane, lane, WG, (COLS + 1u) * RB, WG, TREE_ADD)
      if (rope) {
        for (uint r = lane; r < RB; r += WG) {
          const uint n = n_base + c0;
          const float rstd = norm ? inversesqrt(red[(COLS * RB + r) * WG] / float(K) + pc.eps) : 1.0;
          if (n < pc.N && r < rows) store_rope(m0 + r, n, red[r * WG] * rstd, red[(RB + r) * WG] * rstd);
        }
      } else {
        for (uint i = lane; i < COLS * RB; i += WG) {
          const uint n = n_base + c0 + i / RB, r = i % RB;
          const float rstd = norm ? inversesqrt(red[(COLS * RB + r) * WG] / float(K) + pc.eps) : 1.0;
          if (n < pc.N && r < rows) store_y(m0 + r, n, red[i * WG] * rstd);
        }
      }
      barrier();  // red is reused by the next pass
#endif
    }
  }
}
