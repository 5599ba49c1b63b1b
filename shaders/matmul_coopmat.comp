#version 450
// Tensor-core GEMM (VK_NV_cooperative_matrix) for many rows: Y[m, n] = sum_k X[m, k] * W[n, k]
// (+ bias, + Y). A workgroup computes a BM x BN tile of Y; each subgroup owns a WM x WN
// sub-tile held as 16x16 fp32 accumulators. BK-deep slices of X (f32) and W (f32/f16/bf16)
// are narrowed to fp16 on their way into shared memory; the next slice's global loads are
// issued into registers before the current slice is multiplied, so they overlap the MMAs.
// Every load is bounds-checked (zeros outside M, N, K), so any shape works; 16-byte vector
// loads are used where the element offset and K are multiples of 4. The epilogue goes
// through a per-subgroup 16x16 fp32 scratch so bias, the fused residual add, the row stride
// and the M/N edges are handled in f32 by store_y.
// EMULATE_COOPMAT (test-only) replaces the matrix instructions with scalar f32 math of the
// same meaning, so the staging, edges and epilogue can be tested on devices without them.
#extension GL_GOOGLE_include_directive : enable
#ifndef EMULATE_COOPMAT
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#endif
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;  // = (BM / WM) * (BN / WN) * subgroup size
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;   // a multiple of 16
layout(constant_id = 4) const uint WM = 64;   // a multiple of 16
layout(constant_id = 5) const uint WN = 32;   // a multiple of 16

#include "matmul_common.glsl"

// The same bindings seen as 16-byte chunks (4 elements) for the aligned fast path.
layout(std430, binding = 0) readonly buffer XBuf4 { vec4 x4[]; };
#if defined(W_F32)
layout(std430, binding = 1) readonly buffer WBuf4 { vec4 w4[]; };
#define WCHUNK vec4
#else
layout(std430, binding = 1) readonly buffer WBuf2 { uvec2 w2[]; };
#define WCHUNK uvec2  // 4 raw 16-bit values
#endif

const uint FM = WM / 16, FN = WN / 16;  // 16x16 fragments per subgroup
const uint SUBGROUPS = (BM / WM) * (BN / WN);
// Row pitch in halves: rows start 16-byte aligned and 8 consecutive rows fall on distinct
// banks for the fragment loads.
const uint LDS = BK + 8;
const uint LDC = 20;  // scratch row pitch in floats (80 bytes)
const uint CHUNKS_A = BM * BK / 4, CHUNKS_B = BN * BK / 4;
const uint PER_A = (CHUNKS_A + WG - 1) / WG, PER_B = (CHUNKS_B + WG - 1) / WG;

shared float16_t As[BM * LDS];  // [m][k]
shared float16_t Bs[BN * LDS];  // [n][k]: B = Wᵀ column-major
shared float Cs[SUBGROUPS * 16 * LDC];

#ifdef EMULATE_COOPMAT
// The emulation uses no subgroup: its "subgroup" s is invocations s·SGE .. s·SGE + SGE − 1,
// SGE = WG / SUBGROUPS the subgroup size the host planned for, and the subgroup barriers of
// the epilogue become workgroup barriers (reached by every invocation: the loops around them
// are uniform). So it is right whatever subgroups the device runs (lavapipe reports 32 or 64
// lanes at those widths but runs 16; partial subgroups are legal without full subgroups).
const uint SGE = WG / SUBGROUPS, PER_LANE = 256 / SGE;  // fragment elements per invocation
#define SG_ID (gl_LocalInvocationID.x / SGE)
#define SG_LANE (gl_LocalInvocationID.x % SGE)
#define SG_SIZE SGE
#define SG_SHARED_SYNC() barrier()
#define SG_SYNC() barrier()
#else
#define SG_ID gl_SubgroupID
#define SG_LANE gl_SubgroupInvocationID
#define SG_SIZE gl_SubgroupSize
#define SG_SHARED_SYNC() subgroupMemoryBarrierShared(); subgroupBarrier()
#define SG_SYNC() subgroupBarrier()
#endif

vec4 load_x_chunk(uint m, uint k, bool vec) {
  vec4 v = vec4(0.0);
  if (m >= pc.M || k >= pc.K) return v;
  const uint i = pc.x_off + m * pc.K + k;
  if (vec) return x4[i >> 2];
  [[unroll]] for (uint c = 0; c < 4; ++c)
    if (k + c < pc.K) v[c] = x[i + c];
  return v;
}

#if defined(W_F32)
WCHUNK load_w_chunk(uint n, uint k, bool vec) {
  vec4 v = vec4(0.0);
  if (n >= pc.N || k >= pc.K) return v;
  const uint i = pc.w_off + n * pc.K + k;
  if (vec) return w4[i >> 2];
  [[unroll]] for (uint c = 0; c < 4; ++c)
    if (k + c < pc.K) v[c] = w[i + c];
  return v;
}
f16vec4 widen_w(WCHUNK v) { return f16vec4(v); }
#else
uint half_bits(uint i) { return (w[i >> 1] >> ((i & 1u) << 4)) & 0xffffu; }
WCHUNK load_w_chunk(uint n, uint k, bool vec) {
  if (n >= pc.N || k >= pc.K) return uvec2(0);  // zero bits are 0.0 in f16 and bf16
  const uint i = pc.w_off + n * pc.K + k;
  if (vec) return w2[i >> 2];
  uint h[4];
  [[unroll]] for (uint c = 0; c < 4; ++c) h[c] = k + c < pc.K ? half_bits(i + c) : 0u;
  return uvec2(h[0] | (h[1] << 16), h[2] | (h[3] << 16));
}
f16vec4 widen_w(WCHUNK v) {
#if defined(W_F16)
  return f16vec4(unpackFloat2x16(v.x), unpackFloat2x16(v.y));
#else
  // bf16 -> f32 is exact; the f16 rounding overflows beyond 65504 like any f16 narrowing.
  return f16vec4(vec4(uintBitsToFloat(v.x << 16), uintBitsToFloat(v.x & 0xffff0000u),
                      uintBitsToFloat(v.y << 16), uintBitsToFloat(v.y & 0xffff0000u)));
#endif
}
#endif

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint sg = SG_ID;
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  const uint wm0 = (sg / (BN / WN)) * WM, wn0 = (sg % (BN / WN)) * WN;
  const uint K = pc.K;
  // 16-byte loads need 4-element-aligned rows (f16/bf16: one uvec2 = elements 4i..4i+3).
  const bool vec_x = (pc.x_off & 3u) == 0u && (K & 3u) == 0u;
  const bool vec_w = (pc.w_off & 3u) == 0u && (K & 3u) == 0u;

#ifdef EMULATE_COOPMAT
  // Element e = lane + t * SGE (row e / 16, column e % 16) of each 16x16 fragment lives in
  // this lane: PER_LANE = 256 / SGE of them (64 for subgroups of 4).
  const uint lane = SG_LANE;
  float acc[FM * FN][PER_LANE];
  for (uint i = 0; i < FM * FN; ++i)
    for (uint t = 0; t < PER_LANE; ++t) acc[i][t] = 0.0;
#else
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[FM * FN];
  [[unroll]] for (uint i = 0; i < FM * FN; ++i) acc[i] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
#endif

  vec4 ra[PER_A];
  WCHUNK rb[PER_B];
  // Chunk c of a tile: row c / (BK / 4), elements 4 * (c % (BK / 4)) .. +3 of the slice.
  [[unroll]] for (uint j = 0; j < PER_A; ++j) {
    const uint c = tid + j * WG;
    ra[j] = c < CHUNKS_A ? load_x_chunk(m0 + c / (BK / 4), (c % (BK / 4)) * 4, vec_x) : vec4(0.0);
  }
  [[unroll]] for (uint j = 0; j < PER_B; ++j) {
    const uint c = tid + j * WG;
    rb[j] = c < CHUNKS_B ? load_w_chunk(n0 + c / (BK / 4), (c % (BK / 4)) * 4, vec_w) : WCHUNK(0);
  }

  for (uint k0 = 0; k0 < K; k0 += BK) {
    barrier();  // the previous slice's fragments have been read
    [[unroll]] for (uint j = 0; j < PER_A; ++j) {
      const uint c = tid + j * WG;
      if (c < CHUNKS_A) {
        const uint s = (c / (BK / 4)) * LDS + (c % (BK / 4)) * 4;
        const f16vec4 h = f16vec4(ra[j]);
        As[s] = h.x; As[s + 1] = h.y; As[s + 2] = h.z; As[s + 3] = h.w;
      }
    }
    [[unroll]] for (uint j = 0; j < PER_B; ++j) {
      const uint c = tid + j * WG;
      if (c < CHUNKS_B) {
        const uint s = (c / (BK / 4)) * LDS + (c % (BK / 4)) * 4;
        const f16vec4 h = widen_w(rb[j]);
        Bs[s] = h.x; Bs[s + 1] = h.y; Bs[s + 2] = h.z; Bs[s + 3] = h.w;
      }
    }
    barrier();

    const uint kn = k0 + BK;
    if (kn < K) {
      [[unroll]] for (uint j = 0; j < PER_A; ++j) {
        const uint c = tid + j * WG;
        if (c < CHUNKS_A) ra[j] = load_x_chunk(m0 + c / (BK / 4), kn + (c % (BK / 4)) * 4, vec_x);
      }
      [[unroll]] for (uint j = 0; j < PER_B; ++j) {
        const uint c = tid + j * WG;
        if (c < CHUNKS_B) rb[j] = load_w_chunk(n0 + c / (BK / 4), kn + (c % (BK / 4)) * 4, vec_w);
      }
    }

#ifdef EMULATE_COOPMAT
    for (uint i = 0; i < FM; ++i)
      for (uint j = 0; j < FN; ++j)
        for (uint t = 0; t < PER_LANE; ++t) {
          const uint e = lane + t * SGE;
          const uint ar = (wm0 + i * 16 + e / 16) * LDS, br = (wn0 + j * 16 + e % 16) * LDS;
          float a = acc[i * FN + j][t];  // one array access per element, not per k
          for (uint kk = 0; kk < BK; ++kk) a += float(As[ar + kk]) * float(Bs[br + kk]);
          acc[i * FN + j][t] = a;
        }
#else
    [[unroll]] for (uint kk = 0; kk < BK; kk += 16) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a[FM];
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> b[FN];
      [[unroll]] for (uint i = 0; i < FM; ++i)
        coopMatLoadNV(a[i], As, (wm0 + i * 16) * LDS + kk, LDS, false);
      [[unroll]] for (uint j = 0; j < FN; ++j)
        coopMatLoadNV(b[j], Bs, (wn0 + j * 16) * LDS + kk, LDS, true);
      [[unroll]] for (uint i = 0; i < FM; ++i)
        [[unroll]] for (uint j = 0; j < FN; ++j)
          acc[i * FN + j] = coopMatMulAddNV(a[i], b[j], acc[i * FN + j]);
    }
#endif
  }

  const uint scratch = sg * 16 * LDC;
  [[unroll]] for (uint i = 0; i < FM; ++i) {
    [[unroll]] for (uint j = 0; j < FN; ++j) {
#ifdef EMULATE_COOPMAT
      for (uint t = 0; t < PER_LANE; ++t) {
        const uint e = lane + t * SGE;
        Cs[scratch + (e / 16) * LDC + e % 16] = acc[i * FN + j][t];
      }
#else
      coopMatStoreNV(acc[i * FN + j], Cs, scratch, LDC, false);
#endif
      SG_SHARED_SYNC();
      const uint mb = m0 + wm0 + i * 16, nb = n0 + wn0 + j * 16;
      for (uint e = SG_LANE; e < 256; e += SG_SIZE) {
        const uint r = e / 16, col = e % 16;
        if (mb + r < pc.M && nb + col < pc.N) store_y(mb + r, nb + col, Cs[scratch + r * LDC + col]);
      }
      SG_SYNC();  // all lanes have read the scratch before the next fragment lands
    }
  }
}
