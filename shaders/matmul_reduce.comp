#version 450
// Split-K's second pass. matmul_coopmat.comp wrote S = pc.K partial products of Y, slice s
// at P + s·split_stride as a dense [M, N] block; this adds them in slice order (so the sum
// does not depend on which workgroup finished first), then the GEMM's epilogue: bias, GELU,
// the fused residual add (flags as matmul_common.glsl's), and stores into Y's rows (y_stride),
// as f16 pairs with Y_HALF (even N, row stride and offset; no accumulate).
// ROW_NORM (one workgroup per row, Y's rows whole: N = y_stride): also the RMSNorm of each
// finished row, as norm.comp computes it (sum of squares in the same tree order, w·(y·rstd)),
// into Z at z_off with the norm weight bound at binding 1 — the decoder's next op, done here.
// Bindings: 0 the partial sums (f32, at pc.x_off), 1 the norm weight (unused without
// ROW_NORM), 2 Y, 3 bias, 4 Z.
#extension GL_GOOGLE_include_directive : enable

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;  // a power of two
layout(constant_id = 1) const bool Y_HALF = false;
layout(constant_id = 2) const bool ROW_NORM = false;

#include "matmul_common.glsl"
#include "norm_reduce.glsl"

layout(std430, binding = 2) writeonly buffer YBufW { uint yw[]; };
layout(std430, binding = 4) writeonly buffer ZBuf { float z[]; };

// Column n of row m: the partial sums in slice order, then the epilogue.
float finish(uint m, uint n) {
  const uint p = pc.x_off + m * pc.N + n;
  float acc = 0.0;
  for (uint s = 0; s < pc.K; ++s) acc += x[p + s * pc.split_stride];
  return bias_act(n, acc);
}

void main() {
  if (ROW_NORM) {
    const uint m = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (m >= pc.M) return;  // uniform across the workgroup
    const uint t = gl_LocalInvocationID.x, base = pc.y_off + m * pc.y_stride;
    float ss = 0.0;
    for (uint n = t; n < pc.N; n += WG) {
      float v = finish(m, n);
      if ((pc.flags & 2u) != 0u) v += y[base + n];
      y[base + n] = v;
      ss += v * v;
    }
    const float rstd = inversesqrt(wg_sum(ss) / float(pc.N) + pc.eps);
    // Each invocation reads back only the Y values it wrote.
    for (uint n = t; n < pc.N; n += WG) z[pc.z_off + m * pc.N + n] = load_w(pc.w_off + n) * (y[base + n] * rstd);
    return;
  }
  const uint per = Y_HALF ? 2u : 1u;  // columns per invocation
  const uint cols = pc.N / per, total = pc.M * cols;
  const uint stride = gl_NumWorkGroups.x * WG;
  for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
    const uint m = i / cols, n = (i % cols) * per;
    const uint yi = pc.y_off + m * pc.y_stride + n;
    if (Y_HALF) {
      yw[yi >> 1] = packHalf2x16(vec2(finish(m, n), finish(m, n + 1)));
    } else {
      float v = finish(m, n);
      if ((pc.flags & 2u) != 0u) v += y[yi];
      y[yi] = v;
    }
  }
}
