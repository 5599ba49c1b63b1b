#version 450
// Several-row mat-vec for batched decode (plain matmuls with a few rows, e.g. 3..16):
// Y[m, n] = sum_k X[m, k] * W[n, k] (+ bias, GELU, + Y). Meant to be bound by the weight
// stream at every row count it runs, so each weight element is read once and every X value
// loaded from shared memory is used for C columns:
// - a lane group (a subgroup with USE_SUBGROUP, else the whole workgroup) owns C output
//   columns and all rows of a pass (RB rows, RB >= M normally); its lanes split K in units of
//   8 elements, one 16-byte weight load per unit and column (two for f32 weights), and reduce
//   with subgroupAdd (or a shared-memory tree);
// - the workgroup's CPW = (lane groups) x C columns share X, staged in shared memory in
//   chunks of KC columns (f32, as X is) as two planes per row: plane h holds elements
//   8u + 4h .. 8u + 4h + 3 at vec4 u, so a lane's two vec4 reads are contiguous across lanes;
// - the weights of a lane's next round (WU units per column) are loaded before the current
//   round is multiplied, so the weight stream never waits for the arithmetic or for X's
//   staging. A unit count that one round does not cover (a subgroup narrower than the host
//   assumed) takes more rounds, loaded in place.
// K not a multiple of 8 or a weight start that is not 16-byte aligned (w_off) takes a scalar
// path with the same staging.
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_control_flow_attributes : require
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;  // invocations (a multiple of the subgroup size)
layout(constant_id = 1) const uint RB = 8;    // rows of X per pass
layout(constant_id = 2) const uint C = 4;     // columns per lane group
layout(constant_id = 3) const uint CPW = 16;  // columns per workgroup (lane groups x C)
layout(constant_id = 4) const uint KC = 512;  // K elements per staged chunk (a multiple of 8)
layout(constant_id = 5) const uint WU = 2;    // units of 8 elements per lane and column per round

#include "matmul_common.glsl"
#include "tree_reduce.glsl"

layout(std430, binding = 0) readonly buffer XBuf4 { vec4 x4[]; };
#if defined(W_F32)
layout(std430, binding = 1) readonly buffer WBuf4 { vec4 w4[]; };
struct WUnit { vec4 a, b; };
WUnit fetch_unit(uint e) { return WUnit(w4[e >> 2], w4[(e >> 2) + 1u]); }
void open_unit(WUnit u, out vec4 a, out vec4 b) { a = u.a; b = u.b; }
const WUnit kNoUnit = WUnit(vec4(0.0), vec4(0.0));
const uint kWAlign = 3u;  // w_off in elements: 16 bytes
#else
layout(std430, binding = 1) readonly buffer WBuf4 { uvec4 w4[]; };
struct WUnit { uvec4 p; };
WUnit fetch_unit(uint e) { return WUnit(w4[e >> 3]); }
void open_unit(WUnit u, out vec4 a, out vec4 b) { unpack8(u.p, a, b); }
const WUnit kNoUnit = WUnit(uvec4(0u));
const uint kWAlign = 7u;
#endif

const uint PL = KC / 8u + 4u;  // vec4s per plane: padded so the two planes' stores use other banks
shared vec4 xs[RB * 2u * PL];
#ifndef USE_SUBGROUP
shared float red[C * RB * WG];
#endif

// Rows m0 .. m0 + rows - 1 of X, columns k0 .. k0 + KC - 1, into xs (zeros past K and rows).
void stage_x(uint m0, uint rows, uint k0, bool xvec) {
  barrier();  // the previous chunk has been read
  const uint K = pc.K;
  if (xvec) {
    const uint Q = KC / 4u;
    for (uint e = gl_LocalInvocationID.x; e < RB * Q; e += WG) {
      const uint r = e / Q, q = e % Q, k = k0 + 4u * q;
      vec4 v = vec4(0.0);
      if (r < rows && k < K) v = x4[(pc.x_off + (m0 + r) * K + k) >> 2];
      xs[(2u * r + (q & 1u)) * PL + (q >> 1)] = v;
    }
  } else {
    for (uint e = gl_LocalInvocationID.x; e < RB * KC; e += WG) {
      const uint r = e / KC, kk = e % KC, k = k0 + kk;
      float v = 0.0;
      if (r < rows && k < K) v = x[pc.x_off + (m0 + r) * K + k];
      xs[(2u * r + ((kk >> 2) & 1u)) * PL + (kk >> 3)][kk & 3u] = v;
    }
  }
  barrier();
}

void main() {
  const uint n_base = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * CPW;
  if (n_base >= pc.N) return;  // whole workgroup leaves together
#ifdef USE_SUBGROUP
  // Active lanes, as matmul_vec.comp counts them (a subgroup may run fewer than its size).
  const uint lane = subgroupExclusiveAdd(1u), GS = subgroupAdd(1u);
  const uint grp = gl_SubgroupID, ngrp = gl_NumSubgroups;
#else
  const uint lane = gl_LocalInvocationID.x, GS = WG, grp = 0u, ngrp = 1u;
#endif
  const uint K = pc.K;
  const bool wvec = (K & 7u) == 0u && (pc.w_off & kWAlign) == 0u;
  const bool xvec = ((pc.x_off | K) & 3u) == 0u;
  const uint chunks = (K + KC - 1u) / KC;
  const uint step = WU * GS;  // units one round covers

  for (uint m0 = 0u; m0 < pc.M; m0 += RB) {
    const uint rows = min(RB, pc.M - m0);
    // One round of column blocks normally; more where the workgroup has fewer lane groups
    // than the host assumed. Uniform over the workgroup (barriers inside).
    for (uint cb = 0u; cb < CPW; cb += ngrp * C) {
      const uint c0 = cb + grp * C;
      const bool owns = c0 < CPW && n_base + c0 < pc.N;  // uniform within a lane group
      uint wrow[C];
      [[unroll]] for (uint c = 0u; c < C; ++c) wrow[c] = pc.w_off + min(n_base + c0 + c, pc.N - 1u) * K;
      float acc[RB * C];
      [[unroll]] for (uint i = 0u; i < RB * C; ++i) acc[i] = 0.0;
      WUnit wcur[WU * C], wnext[WU * C];
      if (wvec && owns) {
        const uint units = (min(KC, K) + 7u) / 8u;
        [[unroll]] for (uint i = 0u; i < WU; ++i) {
          const uint u = lane + i * GS;
          [[unroll]] for (uint c = 0u; c < C; ++c) {
            wcur[i * C + c] = kNoUnit;
            if (u < units) wcur[i * C + c] = fetch_unit(wrow[c] + 8u * u);
          }
        }
      }

      for (uint kc = 0u; kc < chunks; ++kc) {
        const uint k0 = kc * KC;
        stage_x(m0, rows, k0, xvec);
        const uint units = (min(KC, K - k0) + 7u) / 8u;
        if (!owns) continue;
        if (wvec) {
          for (uint ub = 0u; ub < units; ub += step) {
            if (ub > 0u) {  // a narrow subgroup's further rounds: load in place
              [[unroll]] for (uint i = 0u; i < WU; ++i) {
                const uint u = ub + lane + i * GS;
                [[unroll]] for (uint c = 0u; c < C; ++c) {
                  wcur[i * C + c] = kNoUnit;
                  if (u < units) wcur[i * C + c] = fetch_unit(wrow[c] + k0 + 8u * u);
                }
              }
            }
            if (ub + step >= units && kc + 1u < chunks) {  // the next chunk's first round
              const uint k1 = k0 + KC, units1 = (min(KC, K - k1) + 7u) / 8u;
              [[unroll]] for (uint i = 0u; i < WU; ++i) {
                const uint u = lane + i * GS;
                [[unroll]] for (uint c = 0u; c < C; ++c) {
                  wnext[i * C + c] = kNoUnit;
                  if (u < units1) wnext[i * C + c] = fetch_unit(wrow[c] + k1 + 8u * u);
                }
              }
            }
            [[unroll]] for (uint i = 0u; i < WU; ++i) {
              const uint u = ub + lane + i * GS;
              if (u < units) {
                vec4 wa[C], wb[C];
                [[unroll]] for (uint c = 0u; c < C; ++c) open_unit(wcur[i * C + c], wa[c], wb[c]);
                [[unroll]] for (uint r = 0u; r < RB; ++r) {
                  const vec4 xa = xs[2u * r * PL + u], xb = xs[(2u * r + 1u) * PL + u];
                  [[unroll]] for (uint c = 0u; c < C; ++c) acc[c * RB + r] += dot(wa[c], xa) + dot(wb[c], xb);
                }
              }
            }
          }
          if (kc + 1u < chunks)
            [[unroll]] for (uint i = 0u; i < WU * C; ++i) wcur[i] = wnext[i];
        } else {
          for (uint u = lane; u < units; u += GS) {
            vec4 wa[C], wb[C];
            [[unroll]] for (uint c = 0u; c < C; ++c)
              [[unroll]] for (uint j = 0u; j < 8u; ++j) {
                const uint k = k0 + 8u * u + j;
                const float v = k < K ? load_w(wrow[c] + k) : 0.0;
                if (j < 4u) wa[c][j] = v; else wb[c][j - 4u] = v;
              }
            [[unroll]] for (uint r = 0u; r < RB; ++r) {
              const vec4 xa = xs[2u * r * PL + u], xb = xs[(2u * r + 1u) * PL + u];
              [[unroll]] for (uint c = 0u; c < C; ++c) acc[c * RB + r] += dot(wa[c], xa) + dot(wb[c], xb);
            }
          }
        }
      }

#ifdef USE_SUBGROUP
      if (owns) {
        [[unroll]] for (uint i = 0u; i < RB * C; ++i) {  // constant indices: acc stays in registers
          const float s = subgroupAdd(acc[i]);
          const uint n = n_base + c0 + i / RB, r = i % RB;
          if (lane == i % GS && n < pc.N && r < rows) store_y(m0 + r, n, s);
        }
      }
#else
      [[unroll]] for (uint i = 0u; i < RB * C; ++i) red[i * WG + lane] = acc[i];
      barrier();
      TREE_REDUCE(red, lane, lane, WG, RB * C, WG, TREE_ADD)
      for (uint i = lane; i < RB * C; i += WG) {
        const uint n = n_base + c0 + i / RB, r = i % RB;
        if (owns && n < pc.N && r < rows) store_y(m0 + r, n, red[i * WG]);
      }
      barrier();  // red is reused by the next pass
#endif
    }
  }
}
