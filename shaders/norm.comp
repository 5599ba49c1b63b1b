#version 450
// RMSNorm (HF Llama) or, with LAYERNORM, LayerNorm with bias; one workgroup per row.
// Weights/bias are f32, f16 (WEIGHT_F16) or bf16 (WEIGHT_BF16), bound as words.
// y may alias x: every element is read by the invocation that later writes it. With Y_HALF, y
// holds f16 values two per word (even cols; each invocation writes a pair).
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const bool Y_HALF = false;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { uint w_words[]; };
layout(std430, binding = 2) readonly buffer Bt { uint b_words[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, binding = 3) writeonly buffer Yh { uint yw[]; };
layout(push_constant) uniform Push {
  uint rows, cols;
  float eps;
  uint w_off, b_off;
} pc;

#define WORDS w_words
#define load_elem load_w
#include "norm_weights.glsl"
#undef load_elem
#undef WORDS
#define WORDS b_words
#define load_elem load_b
#include "norm_weights.glsl"
#undef load_elem
#undef WORDS
#include "norm_reduce.glsl"

void main() {
  uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (row >= pc.rows) return;  // uniform across the workgroup
  uint t = gl_LocalInvocationID.x;
  uint base = row * pc.cols;
  float n = float(pc.cols);
#ifdef LAYERNORM
  float s = 0.0;
  for (uint i = t; i < pc.cols; i += WG) s += x[base + i];
  float mean = wg_sum(s) / n;
  float v = 0.0;
  for (uint i = t; i < pc.cols; i += WG) {
    float d = x[base + i] - mean;
    v += d * d;
  }
  float rstd = inversesqrt(wg_sum(v) / n + pc.eps);
  if (Y_HALF) {
    for (uint i = 2 * t; i < pc.cols; i += 2 * WG) {
      const vec2 xv = vec2(x[base + i], x[base + i + 1]) - mean;
      const vec2 wv = vec2(load_w(pc.w_off + i), load_w(pc.w_off + i + 1));
      const vec2 bv = vec2(load_b(pc.b_off + i), load_b(pc.b_off + i + 1));
      yw[(base + i) >> 1] = packHalf2x16(xv * rstd * wv + bv);
    }
    return;
  }
  for (uint i = t; i < pc.cols; i += WG)
    y[base + i] = (x[base + i] - mean) * rstd * load_w(pc.w_off + i) + load_b(pc.b_off + i);
#else
  float ss = 0.0;
  for (uint i = t; i < pc.cols; i += WG) {
    float a = x[base + i];
    ss += a * a;
  }
  float rstd = inversesqrt(wg_sum(ss) / n + pc.eps);
  if (Y_HALF) {
    for (uint i = 2 * t; i < pc.cols; i += 2 * WG) {
      const vec2 wv = vec2(load_w(pc.w_off + i), load_w(pc.w_off + i + 1));
      yw[(base + i) >> 1] = packHalf2x16(wv * (vec2(x[base + i], x[base + i + 1]) * rstd));
    }
    return;
  }
  for (uint i = t; i < pc.cols; i += WG) y[base + i] = load_w(pc.w_off + i) * (x[base + i] * rstd);
#endif
}
