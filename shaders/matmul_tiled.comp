#version 450
// Tiled GEMM for many rows (prefill, vision): Y[m, n] = sum_k X[m, k] * W[n, k] (+ bias, + Y).
// A workgroup computes a BM x BN tile of Y, staging BK-deep slices of X and W in shared
// memory (weights widened to f32 there); each thread accumulates TM x TN outputs in
// registers, strided by the thread grid so shared reads and global stores stay coalesced.
#extension GL_GOOGLE_include_directive : enable

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;  // = (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

#include "matmul_common.glsl"

// +1 padding: the loaders write along k, which would otherwise hit one bank.
shared float As[BK * (BM + 1)];
shared float Bs[BK * (BN + 1)];

void main() {
  const uint TX = BN / TN, TY = BM / TM;
  const uint tid = gl_LocalInvocationID.x;
  const uint tx = tid % TX, ty = tid / TX;
  const uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM;
  const uint M = pc.M, N = pc.N, K = pc.K;

  float acc[TM * TN];
  for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;

  for (uint k0 = 0; k0 < K; k0 += BK) {
    for (uint i = tid; i < BM * BK; i += WG) {
      const uint r = i / BK, kk = i % BK, m = m0 + r, k = k0 + kk;
      As[kk * (BM + 1) + r] = (m < M && k < K) ? x[pc.x_off + m * K + k] : 0.0;
    }
    for (uint i = tid; i < BN * BK; i += WG) {
      const uint c = i / BK, kk = i % BK, n = n0 + c, k = k0 + kk;
      Bs[kk * (BN + 1) + c] = (n < N && k < K) ? load_w(pc.w_off + n * K + k) : 0.0;
    }
    barrier();
    for (uint kk = 0; kk < BK; ++kk) {
      float a[TM], b[TN];
      for (uint i = 0; i < TM; ++i) a[i] = As[kk * (BM + 1) + ty + i * TY];
      for (uint j = 0; j < TN; ++j) b[j] = Bs[kk * (BN + 1) + tx + j * TX];
      for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] += a[i] * b[j];
    }
    barrier();
  }

  for (uint i = 0; i < TM; ++i) {
    const uint m = m0 + ty + i * TY;
    if (m >= M) break;
    for (uint j = 0; j < TN; ++j) {
      const uint n = n0 + tx + j * TX;
      if (n < N) store_y(m, n, acc[i * TN + j]);
    }
  }
}
