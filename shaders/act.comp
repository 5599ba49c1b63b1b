#version 450
#extension GL_GOOGLE_include_directive : enable
// Elementwise ops, one invocation per output element over a 2-D grid of workgroups:
//   OP_GELU    y = gelu_tanh(x)                      (y may alias x); with HALF, x and y hold
//              f16 values and each invocation takes one 32-bit word of two (n even)
//   OP_SWIGLU  y[r, c] = silu(g[r, c]) * g[r, I + c]  (g = fused gate|up rows of 2I); with
//              OUT_HALF, y holds f16 values and each invocation writes one 32-bit word of two
//              adjacent columns (I even): the input of a tensor-core GEMM, which rounds its X
//              to f16 anyway
//   OP_ADD     y = a + b                             (y may alias a)
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
#ifdef HALF
layout(std430, binding = 0) readonly buffer A { uint a[]; };
#else
layout(std430, binding = 0) readonly buffer A { float a[]; };
#endif
#ifdef OP_ADD
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
#elif defined(HALF) || defined(OUT_HALF)
layout(std430, binding = 1) writeonly buffer Y { uint y[]; };
#else
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
#endif
layout(push_constant) uniform Push {
  uint n;     // output elements (HALF, OUT_HALF: 32-bit words)
  uint cols;  // OP_SWIGLU: I (output columns)
} pc;

#include "activation.glsl"

void main() {
  uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x;
  if (i >= pc.n) return;
#if defined(OP_GELU) && defined(HALF)
  const vec2 v = unpackHalf2x16(a[i]);
  y[i] = packHalf2x16(vec2(gelu_tanh(v.x), gelu_tanh(v.y)));
#elif defined(OP_GELU)
  y[i] = gelu_tanh(a[i]);
#elif defined(OP_SWIGLU) && defined(OUT_HALF)
  const uint words = pc.cols / 2u, r = i / words, c = 2u * (i - r * words), g = r * 2u * pc.cols + c;
  const vec2 gate = vec2(a[g], a[g + 1u]), up = vec2(a[g + pc.cols], a[g + pc.cols + 1u]);
  y[i] = packHalf2x16(gate / (1.0 + exp(-gate)) * up);
#elif defined(OP_SWIGLU)
  uint r = i / pc.cols, c = i - r * pc.cols;
  uint g = r * 2u * pc.cols + c;
  float gate = a[g];
  y[i] = gate / (1.0 + exp(-gate)) * a[g + pc.cols];
#elif defined(OP_ADD)
  y[i] = a[i] + b[i];
#endif
}
