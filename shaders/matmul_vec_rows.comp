#version 450
// Mat-vec for several rows without fusions (plain matmuls with 2 < M <= 64, e.g. batched
// decode): Y[m, n] = sum_k X[m, k] * W[n, k] (+ bias, + Y). On the H100 it beats
// matmul_vec.comp there (batch 8 and 32 decode). A workgroup owns COLS output columns and
// all M rows (RB rows per pass, RB >= M), so each weight element is read once. Threads split
// K; partial sums are reduced with subgroupAdd (USE_SUBGROUP) or a shared-memory tree.
#extension GL_GOOGLE_include_directive : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;   // threads, a power of two
layout(constant_id = 1) const uint RB = 1;    // rows of X per pass
layout(constant_id = 2) const uint COLS = 1;  // output columns per workgroup

#include "matmul_common.glsl"
#include "tree_reduce.glsl"

shared float red[COLS * RB * WG];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint n0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * COLS;
  if (n0 >= pc.N) return;  // whole workgroup leaves together
  const uint K = pc.K;

  for (uint m0 = 0; m0 < pc.M; m0 += RB) {
    const uint rows = min(RB, pc.M - m0);
    float acc[COLS * RB];
    for (uint i = 0; i < COLS * RB; ++i) acc[i] = 0.0;

    for (uint c = 0; c < COLS; ++c) {
      const uint n = n0 + c;
      if (n >= pc.N) break;
      const uint wrow = pc.w_off + n * K;
      const uint xrow = pc.x_off + m0 * K;
      if (pair_aligned(wrow)) {
        for (uint k = 2u * tid; k + 1u < K; k += 2u * WG) {
          const vec2 wv = load_w_pair(wrow + k);
          for (uint r = 0; r < RB; ++r) {
            if (r < rows) {
              const uint xi = xrow + r * K + k;
              acc[c * RB + r] += wv.x * x[xi] + wv.y * x[xi + 1u];
            }
          }
        }
        if ((K & 1u) != 0u && tid == 0u) {  // the odd last element
          const float wv = load_w(wrow + K - 1u);
          for (uint r = 0; r < RB; ++r)
            if (r < rows) acc[c * RB + r] += wv * x[xrow + r * K + K - 1u];
        }
      } else {
        for (uint k = tid; k < K; k += WG) {
          const float wv = load_w(wrow + k);
          for (uint r = 0; r < RB; ++r)
            if (r < rows) acc[c * RB + r] += wv * x[xrow + r * K + k];
        }
      }
    }

#ifdef USE_SUBGROUP
    for (uint i = 0; i < COLS * RB; ++i) {
      const float s = subgroupAdd(acc[i]);
      if (subgroupElect()) red[i * WG + gl_SubgroupID] = s;
    }
    barrier();
    const uint parts = gl_NumSubgroups;
#else
    for (uint i = 0; i < COLS * RB; ++i) red[i * WG + tid] = acc[i];
    barrier();
    TREE_REDUCE(red, tid, tid, WG, COLS * RB, WG, TREE_ADD)
    const uint parts = 1u;
#endif
    for (uint i = tid; i < COLS * RB; i += WG) {
      const uint n = n0 + i / RB, r = i % RB;
      if (n < pc.N && r < rows) {
        float s = 0.0;
        for (uint p = 0; p < parts; ++p) s += red[i * WG + p];
        store_y(m0 + r, n, s);
      }
    }
    barrier();  // red is reused by the next pass
  }
}
