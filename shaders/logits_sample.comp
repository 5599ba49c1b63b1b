#version 450
// Reproducible sampling, one workgroup per row (see model/ops/logits.h for the algorithm):
// z = logit / T; keep tokens whose z is at or above a threshold found by bisection over the
// order-preserving integer keys of z (top-k: the k-th largest key; top-p: the largest key
// whose kept softmax mass is >= p of the top-k mass); pick argmax(z + Gumbel noise) among
// the kept tokens, the noise a hash of (seed, step, row, index). The step comes from the
// params buffer when param_index != 0xFFFFFFFF, so a replayed decode step draws new noise.
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer L { float logits[]; };
layout(std430, binding = 1) writeonly buffer Ids { int ids[]; };
layout(std430, binding = 2) readonly buffer P { uint params[]; };
layout(push_constant) uniform Push {
  uint rows, vocab;
  float inv_temp;
  uint top_k;  // 0 or >= vocab: off
  float top_p;  // >= 1: off
  uint seed_lo, seed_hi, step, param_index;
  uint first_row;  // rows first_row .. first_row + rows − 1 of logits / ids (noise row: from 0)
} pc;

#include "logits_reduce.glsl"
#include "logits_rng.glsl"

uint base;
float zval(uint i) { return logits[base + i] * pc.inv_temp; }

// Largest key u in [lo, hi] with count(key >= u) >= k.
uint kth_key(uint lo, uint hi, float k) {
  while (lo < hi) {
    uint mid = lo + ((hi - lo) >> 1) + ((hi - lo) & 1u);
    float c = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < pc.vocab; i += WG) c += order_key(zval(i)) >= mid ? 1.0 : 0.0;
    if (wg_sum(c) >= k) lo = mid; else hi = mid - 1u;
  }
  return lo;
}

float mass_above(uint thr, float zmax) {
  float s = 0.0;
  for (uint i = gl_LocalInvocationID.x; i < pc.vocab; i += WG) {
    float z = zval(i);
    if (order_key(z) >= thr) s += exp(z - zmax);
  }
  return wg_sum(s);
}

void main() {
  const uint local_row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (local_row >= pc.rows) return;
  const uint row = pc.first_row + local_row;
  base = row * pc.vocab;
  uint kmin = 0xFFFFFFFFu, kmax = 0u;
  for (uint i = gl_LocalInvocationID.x; i < pc.vocab; i += WG) {
    uint k = order_key(zval(i));
    kmin = min(kmin, k);
    kmax = max(kmax, k);
  }
  kmin = wg_umin(kmin);
  kmax = wg_umax(kmax);
  uint thr = kmin;
  if (pc.top_k > 0u && pc.top_k < pc.vocab) thr = kth_key(kmin, kmax, float(pc.top_k));
  if (pc.top_p < 1.0) {
    float zmax = key_value(kmax);
    float target = pc.top_p * mass_above(thr, zmax);
    uint lo = thr, hi = kmax;
    while (lo < hi) {
      uint mid = lo + ((hi - lo) >> 1) + ((hi - lo) & 1u);
      if (mass_above(mid, zmax) >= target) lo = mid; else hi = mid - 1u;
    }
    thr = lo;
  }
  uint step = pc.param_index == 0xFFFFFFFFu ? pc.step : params[pc.param_index];
  uint h = row_stream(pc.seed_lo, pc.seed_hi, step, local_row);
  float best = uintBitsToFloat(0xFF800000u);
  uint bi = 0xFFFFFFFFu;
  for (uint i = gl_LocalInvocationID.x; i < pc.vocab; i += WG) {
    float z = zval(i);
    if (order_key(z) < thr) continue;
    precise float s = z + gumbel(h, i);
    if (better(s, i, best, bi)) {
      best = s;
      bi = i;
    }
  }
  wg_argmax(best, bi);
  if (gl_LocalInvocationID.x == 0u) ids[row] = int(bi);
}
