#version 450
// Tensor-core GEMM (VK_NV_cooperative_matrix) for many rows: Y[m, n] = sum_k X[m, k] * W[n, k]
// (+ bias, + Y). A workgroup computes a BM x BN tile of Y; each subgroup owns a WM x WN
// sub-tile held as 16x16 fp32 accumulators. BK-deep slices of X (f32, or f16 with X_HALF) and
// W (f32/f16/bf16) are narrowed to fp16 on their way into shared memory, 8 values per
// thread-chunk stored as one 16-byte word (shared memory is an array of uvec4; fragments load
// from it in 16-byte units). On the H200 this beat float16_t arrays written a half at a time
// by up to 2x (64x32 subgroup tiles) and never lost at one stage.
// With STAGES = 2 the slices alternate between two shared buffers: the next slice's global
// loads are issued into registers, the current slice is multiplied, then the registers are
// narrowed and stored into the other buffer, so there is one barrier per slice and the loads
// overlap the matrix instructions. STAGES = 1 (less shared memory) stores, waits, multiplies
// and waits again. Every load is bounds-checked (zeros outside M, N, K), so any shape works;
// 16-byte loads are used where the element offset and K are multiples of 8 (16-bit data) or
// 4 (f32). The epilogue goes through a per-subgroup 16x16 fp32 scratch so bias, GELU, the
// fused residual add, the row stride and the M/N edges are handled in f32; with Y_HALF, Y
// holds f16 values and each lane writes two adjacent columns as one word (the host requires
// an even N, row stride and offset, and no accumulation).
// The epilogue scratch overlays the slices once the main loop is done: NSLOT 16x16 fp32 slots
// (at most SLOTS, the subgroup count and what the slices' memory holds); subgroups take turns
// in rounds of NSLOT.
// W_SPLIT (with W_F32): each f32 weight w is staged as two halves, hi = w rounded to f16 and
// lo = f16((w − hi)·2^11), in two B buffers, and every product is taken twice into the same f32
// accumulators: X·hi + (X·2^-11)·lo, with X·2^-11 rounded to f16 in the fragment. The weights
// then reach the tensor cores to about 2^-22 of their value instead of f16's 2^-11. The 2^11
// keeps lo a normal f16 for |w| ≥ 2^-14 whatever the device does with subnormals; X·2^-11 is
// subnormal below |X| = 2^-3, where its rounding moves a product by at most 2^-25·|w|. X itself
// is still rounded to f16. Twice the products and B's shared memory.
// EMULATE_COOPMAT (test-only) replaces the matrix instructions with scalar f32 math of the
// same meaning, so the staging, edges and epilogue can be tested on devices without them. It
// uses no subgroup operation: its "subgroup" s is invocations s·SGE .. s·SGE + SGE − 1 (SGE =
// WG / SUBGROUPS, the size the host planned for) and its subgroup barriers are workgroup
// barriers, so it is right whatever subgroups the device really runs (lavapipe at
// LP_NATIVE_VECTOR_WIDTH=1024/2048 reports 32/64 lanes but runs 16).
#extension GL_GOOGLE_include_directive : enable
#if defined(KHR_COOPMAT)
// The same kernel on VK_KHR_cooperative_matrix (glslang 15; the cooperative_matrix2 opt-in
// enables the extension): whether the driver compiles it differently is what it is for.
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#define ACC_T coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>
#define A_T coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA>
#define B_T coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB>
#define LOAD_FRAG(m, buf, off, stride, colmajor) \
  coopMatLoad(m, buf, off, stride, colmajor ? gl_CooperativeMatrixLayoutColumnMajor : gl_CooperativeMatrixLayoutRowMajor)
#define STORE_FRAG(m, buf, off, stride) coopMatStore(m, buf, off, stride, gl_CooperativeMatrixLayoutRowMajor)
#define MUL_ADD(a, b, c) coopMatMulAdd(a, b, c)
#elif !defined(EMULATE_COOPMAT)
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#define ACC_T fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>
#define A_T fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define B_T fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define LOAD_FRAG(m, buf, off, stride, colmajor) coopMatLoadNV(m, buf, off, stride, colmajor)
#define STORE_FRAG(m, buf, off, stride) coopMatStoreNV(m, buf, off, stride, false)
#define MUL_ADD(a, b, c) coopMatMulAddNV(a, b, c)
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
layout(constant_id = 6) const uint STAGES = 2;  // shared buffers: 1 or 2
layout(constant_id = 7) const bool X_HALF = false;  // X holds f16 values, two per 32-bit word
layout(constant_id = 8) const bool Y_HALF = false;  // Y holds f16 values, two per 32-bit word
layout(constant_id = 9) const uint SLOTS = 16;       // epilogue scratch slots (<= subgroups)
#ifdef ABLATE
// Profiling only (matmul_coopmat_abl_f16, KernelPolicy::gemm_ablate; the results are wrong by
// design): what the main loop costs without parts of its work. After the first slice, 1: no
// global loads (the registers' slice is stored again); 2: no global loads and no shared stores
// (fragment loads, products and barriers remain); 3: no loads or stores at all, only the
// products on the first slice's fragments.
layout(constant_id = 12) const uint ABL = 0;
#define AND_ABL_LOADS && ABL == 0u
#define AND_ABL_STORES && ABL < 2u
#else
#define AND_ABL_LOADS
#define AND_ABL_STORES
#endif

#include "matmul_common.glsl"

// The X and W bindings seen as 16-byte chunks for the aligned fast path.
layout(std430, binding = 0) readonly buffer XBuf4 { uvec4 x16[]; };
layout(std430, binding = 0) readonly buffer XBufW { uint xw[]; };
layout(std430, binding = 1) readonly buffer WBuf4 { uvec4 w16[]; };
layout(std430, binding = 2) writeonly buffer YBufW { uint yw[]; };

const uint FM = WM / 16, FN = WN / 16;  // 16x16 fragments per subgroup
const uint SUBGROUPS = (BM / WM) * (BN / WN);
// Invocations per (virtual) subgroup as the host planned them, and the elements of a 16x16
// fragment each one handles in the epilogue.
const uint SGL = WG / SUBGROUPS, EPL = (256 + SGL - 1) / SGL;
// Row pitch in halves: BK and 8 of padding, so rows start 16-byte aligned and 8 consecutive
// rows fall on distinct banks for the fragment loads.
const uint LDS = BK + 8;
const uint CPR = BK / 8;  // 8-value chunks per row of a slice
const uint CHUNKS_A = BM * CPR, CHUNKS_B = BN * CPR;
const uint PER_A = (CHUNKS_A + WG - 1) / WG, PER_B = (CHUNKS_B + WG - 1) / WG;
// One shared array of 16-byte chunks (8 halves each): per stage BM rows of A, then BN rows of
// B (= Wᵀ column-major), LDS / 8 chunks a row; a staged chunk is one 16-byte store. After the
// main loop its start is reused as the epilogue scratch: 16x16 fp32 slots of 64 chunks each.
const uint LDS4 = LDS / 8;
#if defined(W_SPLIT)
const uint B_COPIES = 2;  // hi, then lo (B_LO chunks further on)
#else
const uint B_COPIES = 1;
#endif
const uint A_STAGE = BM * LDS4, STAGE = (BM + B_COPIES * BN) * LDS4, B_LO = BN * LDS4;
const float LO_SCALE = 2048.0;  // W_SPLIT: lo is staged ×2^11, X ×2^-11 multiplies it
shared uvec4 S4[STAGES * STAGE];
const uint CAP_SLOTS = STAGES * STAGE / 64u;
const uint SLOTS1 = SLOTS < SUBGROUPS ? SLOTS : SUBGROUPS;
const uint NSLOT = SLOTS1 < CAP_SLOTS ? SLOTS1 : CAP_SLOTS;  // CAP_SLOTS >= 1 for any tile

#ifdef EMULATE_COOPMAT
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
#define SG_SHARED_SYNC() \
  subgroupMemoryBarrierShared(); \
  subgroupBarrier()
#define SG_SYNC() subgroupBarrier()
#endif

// 8 consecutive values as loaded: f32 bits in lo and hi, or 8 halves (f16/bf16 bits) in lo.
struct Raw {
  uvec4 lo, hi;
};

uint half_at(uint word, uint i) { return (word >> ((i & 1u) << 4)) & 0xffffu; }

// The end of this workgroup's K range (its split's, or K): columns from here load as zeros.
// Split boundaries are multiples of BK, so no 8-value chunk straddles one.
uint g_kend;

float silu_mul(float g, float u) { return g / (1.0 + exp(-g)) * u; }
vec4 silu_mul(vec4 g, vec4 u) { return g / (1.0 + exp(-g)) * u; }

// 8 values of X row m from column k (zeros outside the matrix); `vec`: aligned 16-byte loads.
// With flag 8 (f32 X only) X's rows are gate|up of 2K values and the value is silu(gate)·up,
// as act.comp's SwiGLU computes it.
Raw load_x(uint m, uint k, bool vec) {
  Raw r = Raw(uvec4(0), uvec4(0));
  if (m >= pc.M || k >= g_kend) return r;
  if (!X_HALF && (pc.flags & 8u) != 0u) {
    const uint g = pc.x_off + m * 2u * pc.K + k, u = g + pc.K;
    if (vec && k + 8 <= g_kend) {
      r.lo = floatBitsToUint(silu_mul(uintBitsToFloat(x16[g >> 2]), uintBitsToFloat(x16[u >> 2])));
      r.hi = floatBitsToUint(silu_mul(uintBitsToFloat(x16[(g >> 2) + 1]), uintBitsToFloat(x16[(u >> 2) + 1])));
      return r;
    }
    uint v[8];
    [[unroll]] for (uint c = 0; c < 8; ++c) v[c] = k + c < g_kend ? floatBitsToUint(silu_mul(x[g + c], x[u + c])) : 0u;
    r.lo = uvec4(v[0], v[1], v[2], v[3]);
    r.hi = uvec4(v[4], v[5], v[6], v[7]);
    return r;
  }
  const uint i = pc.x_off + m * pc.K + k;
  if (X_HALF) {
    if (vec && k + 8 <= g_kend) {
      r.lo = x16[i >> 3];
      return r;
    }
    uint h[8];
    [[unroll]] for (uint c = 0; c < 8; ++c) h[c] = k + c < g_kend ? half_at(xw[(i + c) >> 1], i + c) : 0u;
    r.lo = uvec4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16));
    return r;
  }
  if (vec && k + 8 <= g_kend) {  // a whole chunk: with K % 8 == 4 the last one is partial
    r.lo = x16[i >> 2];
    r.hi = x16[(i >> 2) + 1];
    return r;
  }
  uint v[8];
  [[unroll]] for (uint c = 0; c < 8; ++c) v[c] = k + c < g_kend ? floatBitsToUint(x[i + c]) : 0u;
  r.lo = uvec4(v[0], v[1], v[2], v[3]);
  r.hi = uvec4(v[4], v[5], v[6], v[7]);
  return r;
}

// 8 values of W row n from column k, as load_x.
Raw load_w8(uint n, uint k, bool vec) {
  Raw r = Raw(uvec4(0), uvec4(0));  // zero bits are 0.0 in every dtype
  if (n >= pc.N || k >= g_kend) return r;
  const uint i = pc.w_off + n * pc.K + k;
#if defined(W_F32)
  if (vec && k + 8 <= g_kend) {
    r.lo = w16[i >> 2];
    r.hi = w16[(i >> 2) + 1];
    return r;
  }
  uint v[8];
  [[unroll]] for (uint c = 0; c < 8; ++c) v[c] = k + c < g_kend ? floatBitsToUint(w[i + c]) : 0u;
  r.lo = uvec4(v[0], v[1], v[2], v[3]);
  r.hi = uvec4(v[4], v[5], v[6], v[7]);
#else
  if (vec && k + 8 <= g_kend) {
    r.lo = w16[i >> 3];
    return r;
  }
  uint h[8];
  [[unroll]] for (uint c = 0; c < 8; ++c) h[c] = k + c < g_kend ? half_at(w[(i + c) >> 1], i + c) : 0u;
  r.lo = uvec4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16));
#endif
  return r;
}

f16vec4 f32_to_h(uvec4 u) { return f16vec4(uintBitsToFloat(u)); }
f16vec4 f16_to_h(uint a, uint b) { return f16vec4(unpackFloat2x16(a), unpackFloat2x16(b)); }
// bf16 -> f32 is exact; the f16 rounding overflows beyond 65504 like any f16 narrowing.
f16vec4 bf16_to_h(uint a, uint b) {
  return f16vec4(vec4(uintBitsToFloat(a << 16), uintBitsToFloat(a & 0xffff0000u), uintBitsToFloat(b << 16),
                      uintBitsToFloat(b & 0xffff0000u)));
}

// W_SPLIT's hi: f32 values (as bits) rounded to f16's 11 significant bits, to nearest even, in
// f32 — with integer operations, which no compiler folds away (on the H200, lo = w − f32(f16(w))
// in floats gave exactly the unsplit result). w − hi is then exact in f32.
vec4 f16_bits_of(uvec4 b) { return uintBitsToFloat((b + 0xfffu + ((b >> 13) & 1u)) & 0xffffe000u); }

uint pack2(f16vec4 h, bool hi) { return hi ? packFloat2x16(h.zw) : packFloat2x16(h.xy); }
uvec4 pack8(f16vec4 lo, f16vec4 hi) { return uvec4(pack2(lo, false), pack2(lo, true), pack2(hi, false), pack2(hi, true)); }

// Chunk q of row `row` of the A (X) or B (W) slice of `stage`.
void store_a(uint stage, uint row, uint q, Raw r) {
  S4[stage * STAGE + row * LDS4 + q] = X_HALF ? r.lo : pack8(f32_to_h(r.lo), f32_to_h(r.hi));
}
void store_b(uint stage, uint row, uint q, Raw r) {
  const uint s = stage * STAGE + A_STAGE + row * LDS4 + q;
#if defined(W_F32) && defined(W_SPLIT)
  const vec4 hl = f16_bits_of(r.lo), hh = f16_bits_of(r.hi);
  S4[s] = pack8(f16vec4(hl), f16vec4(hh));  // exact: hl, hh hold 11 significant bits
  S4[s + B_LO] = pack8(f16vec4((uintBitsToFloat(r.lo) - hl) * LO_SCALE), f16vec4((uintBitsToFloat(r.hi) - hh) * LO_SCALE));
#elif defined(W_F32)
  S4[s] = pack8(f32_to_h(r.lo), f32_to_h(r.hi));
#elif defined(W_F16)
  S4[s] = r.lo;
#else
  S4[s] = pack8(bf16_to_h(r.lo.x, r.lo.y), bf16_to_h(r.lo.z, r.lo.w));
#endif
}
#ifdef EMULATE_COOPMAT
float half_of(uint e) { return unpackHalf2x16(S4[e >> 3][(e >> 1) & 3u])[e & 1u]; }
// Element e of row `row`, column k of a slice.
float a_at(uint stage, uint row, uint k) { return half_of((stage * STAGE + row * LDS4) * 8 + k); }
float b_at(uint stage, uint row, uint k) { return half_of((stage * STAGE + A_STAGE + row * LDS4) * 8 + k); }
// W_SPLIT: the lo half of the same weight (zero without the split).
float b_lo_at(uint stage, uint row, uint k) {
  return B_COPIES == 2u ? half_of((stage * STAGE + A_STAGE + B_LO + row * LDS4) * 8 + k) : 0.0;
}
#endif
// Epilogue scratch: float e of slot memory starting at chunk `base`.
void scratch_put(uint base, uint e, float v) { S4[base + (e >> 2)][e & 3u] = floatBitsToUint(v); }
float scratch_at(uint base, uint e) { return uintBitsToFloat(S4[base + (e >> 2)][e & 3u]); }
const uint SLOT_SIZE = 64;  // chunks per 16x16 fp32 slot

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint sg = SG_ID;
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  const uint wm0 = (sg / (BN / WN)) * WM, wn0 = (sg % (BN / WN)) * WN;
  const uint K = pc.K;
  // Split-K: this workgroup's columns [kbeg, g_kend); its partial sums go to its own slice of Y.
  const uint kbeg = pc.k_chunk == 0u ? 0u : gl_WorkGroupID.z * pc.k_chunk;
  g_kend = pc.k_chunk == 0u ? K : min(K, kbeg + pc.k_chunk);
  const uint y_base = pc.y_off + gl_WorkGroupID.z * pc.split_stride;
  // 16-byte loads need rows aligned to the 16-byte chunk (4 f32 or 8 halves).
  const uint x_align = X_HALF ? 7u : 3u;
#if defined(W_F32)
  const uint w_align = 3u;
#else
  const uint w_align = 7u;
#endif
  const bool vec_x = (pc.x_off & x_align) == 0u && (K & x_align) == 0u;
  const bool vec_w = (pc.w_off & w_align) == 0u && (K & w_align) == 0u;

#ifdef EMULATE_COOPMAT
  // Element e = lane + t * SGE (row e / 16, column e % 16) of each 16x16 fragment lives in
  // this lane: PER_LANE = 256 / SGE of them (64 for subgroups of 4).
  const uint lane = SG_LANE;
  float acc[FM * FN][PER_LANE];
  for (uint i = 0; i < FM * FN; ++i)
    for (uint t = 0; t < PER_LANE; ++t) acc[i][t] = 0.0;
#else
  ACC_T acc[FM * FN];
  [[unroll]] for (uint i = 0; i < FM * FN; ++i) acc[i] = ACC_T(0.0);
#endif

  // Chunk c of a slice: row c / CPR, values 8 * (c % CPR) .. +7 of the slice.
  Raw ra[PER_A], rb[PER_B];
  [[unroll]] for (uint j = 0; j < PER_A; ++j) {
    const uint c = tid + j * WG;
    ra[j] = c < CHUNKS_A ? load_x(m0 + c / CPR, kbeg + (c % CPR) * 8, vec_x) : Raw(uvec4(0), uvec4(0));
  }
  [[unroll]] for (uint j = 0; j < PER_B; ++j) {
    const uint c = tid + j * WG;
    rb[j] = c < CHUNKS_B ? load_w8(n0 + c / CPR, kbeg + (c % CPR) * 8, vec_w) : Raw(uvec4(0), uvec4(0));
  }

#if defined(ABLATE) && !defined(EMULATE_COOPMAT)
  A_T abl_a[FM];
  B_T abl_b[FN];
#endif
  uint stage = 0;
  for (uint k0 = kbeg; k0 < g_kend; k0 += BK) {
    // Registers → shared: the first slice, and every slice when single-buffered (the others
    // were stored at the end of the previous iteration).
    if (k0 == kbeg || (STAGES == 1 AND_ABL_STORES)) {
      if (STAGES == 1) barrier();  // the previous slice's fragments have been read
      [[unroll]] for (uint j = 0; j < PER_A; ++j) {
        const uint c = tid + j * WG;
        if (c < CHUNKS_A) store_a(0, c / CPR, c % CPR, ra[j]);
      }
      [[unroll]] for (uint j = 0; j < PER_B; ++j) {
        const uint c = tid + j * WG;
        if (c < CHUNKS_B) store_b(0, c / CPR, c % CPR, rb[j]);
      }
      barrier();
    }

    const uint kn = k0 + BK;
    const bool more = kn < g_kend;
    if (more AND_ABL_LOADS) {
      [[unroll]] for (uint j = 0; j < PER_A; ++j) {
        const uint c = tid + j * WG;
        if (c < CHUNKS_A) ra[j] = load_x(m0 + c / CPR, kn + (c % CPR) * 8, vec_x);
      }
      [[unroll]] for (uint j = 0; j < PER_B; ++j) {
        const uint c = tid + j * WG;
        if (c < CHUNKS_B) rb[j] = load_w8(n0 + c / CPR, kn + (c % CPR) * 8, vec_w);
      }
    }

#ifdef EMULATE_COOPMAT
    for (uint i = 0; i < FM; ++i)
      for (uint j = 0; j < FN; ++j)
        for (uint t = 0; t < PER_LANE; ++t) {
          const uint e = lane + t * SGE;
          const uint ar = wm0 + i * 16 + e / 16, br = wn0 + j * 16 + e % 16;
          float a = acc[i * FN + j][t];  // one array access per element, not per k
          for (uint kk = 0; kk < BK; ++kk) {
            const float xa = a_at(stage, ar, kk);
            a += xa * b_at(stage, br, kk);
            if (B_COPIES == 2u) a += float(float16_t(xa / LO_SCALE)) * b_lo_at(stage, br, kk);  // as taken below
          }
          acc[i * FN + j][t] = a;
        }
#else
#ifdef ABLATE
    if (ABL == 3u) {
      if (k0 == kbeg) {
        [[unroll]] for (uint i = 0; i < FM; ++i) LOAD_FRAG(abl_a[i], S4, (wm0 + i * 16) * LDS4, LDS4, false);
        [[unroll]] for (uint j = 0; j < FN; ++j) LOAD_FRAG(abl_b[j], S4, A_STAGE + (wn0 + j * 16) * LDS4, LDS4, true);
      }
      [[unroll]] for (uint kk = 0; kk < BK; kk += 16)
        [[unroll]] for (uint j = 0; j < FN; ++j)
          [[unroll]] for (uint i = 0; i < FM; ++i) acc[i * FN + j] = MUL_ADD(abl_a[i], abl_b[j], acc[i * FN + j]);
    } else
#endif
    [[unroll]] for (uint kk = 0; kk < BK; kk += 16) {
      // A's fragments are loaded once and reused for each of B's, which are loaded one at a
      // time (fewer live registers).
      A_T a[FM];
      B_T b;
      [[unroll]] for (uint i = 0; i < FM; ++i)
        LOAD_FRAG(a[i], S4, stage * STAGE + (wm0 + i * 16) * LDS4 + kk / 8, LDS4, false);
#if defined(W_SPLIT)
      A_T a_lo[FM];  // X·2^-11 for the lo products
      [[unroll]] for (uint i = 0; i < FM; ++i) a_lo[i] = a[i] * float16_t(1.0 / LO_SCALE);
#endif
      [[unroll]] for (uint j = 0; j < FN; ++j) {
        LOAD_FRAG(b, S4, stage * STAGE + A_STAGE + (wn0 + j * 16) * LDS4 + kk / 8, LDS4, true);
        [[unroll]] for (uint i = 0; i < FM; ++i) acc[i * FN + j] = MUL_ADD(a[i], b, acc[i * FN + j]);
#if defined(W_SPLIT)
        LOAD_FRAG(b, S4, stage * STAGE + A_STAGE + B_LO + (wn0 + j * 16) * LDS4 + kk / 8, LDS4, true);
        [[unroll]] for (uint i = 0; i < FM; ++i) acc[i * FN + j] = MUL_ADD(a_lo[i], b, acc[i * FN + j]);
#endif
      }
    }
#endif

    if (STAGES == 2) {
      // The other buffer was last read in the previous iteration, which ended in a barrier.
      if (more AND_ABL_STORES) {
        const uint ns = (stage ^ 1u);
        [[unroll]] for (uint j = 0; j < PER_A; ++j) {
          const uint c = tid + j * WG;
          if (c < CHUNKS_A) store_a(ns, c / CPR, c % CPR, ra[j]);
        }
        [[unroll]] for (uint j = 0; j < PER_B; ++j) {
          const uint c = tid + j * WG;
          if (c < CHUNKS_B) store_b(ns, c / CPR, c % CPR, rb[j]);
        }
      }
      barrier();
      stage ^= 1u;
    }
  }

  // Subgroups sg in [r0, r0 + NSLOT) use the scratch in round r0; every invocation reaches
  // every barrier (the loops are uniform; `mine` is uniform in each subgroup).
  barrier();  // the scratch overlays the last slice, which other subgroups may still read
  for (uint r0 = 0; r0 < SUBGROUPS; r0 += NSLOT) {
    const bool mine = sg >= r0 && sg < r0 + NSLOT;
    const uint scratch = mine ? (sg - r0) * SLOT_SIZE : 0;
    if (r0 > 0) barrier();  // the previous round has read its slots
    [[unroll]] for (uint i = 0; i < FM; ++i) {
      [[unroll]] for (uint j = 0; j < FN; ++j) {
        if (mine) {
#ifdef EMULATE_COOPMAT
          for (uint t = 0; t < PER_LANE; ++t) scratch_put(scratch, lane + t * SGE, acc[i * FN + j][t]);
#else
          STORE_FRAG(acc[i * FN + j], S4, scratch, 4);
#endif
        }
        SG_SHARED_SYNC();
        const uint mb = m0 + wm0 + i * 16, nb = n0 + wn0 + j * 16;
        if (mine && Y_HALF) {
          for (uint e = SG_LANE; e < 128; e += SG_SIZE) {
            const uint r = e / 8, col = 2 * (e % 8), m = mb + r, n = nb + col;
            if (m < pc.M && n < pc.N) {
              const vec2 v = vec2(bias_act(n, scratch_at(scratch, r * 16 + col)), bias_act(n + 1, scratch_at(scratch, r * 16 + col + 1)));
              yw[(y_base + m * pc.y_stride + n) >> 1] = packHalf2x16(v);
            }
          }
        } else if (mine) {
          // With the fused residual add, this lane's prior Y values of the fragment are all
          // loaded before any is stored: Y is read and written through one binding, so a load
          // after a store waits for it, and one load at a time (a memory latency each) made
          // the accumulating GEMMs 1.6x slower than the plain ones on the H200.
          const bool accumulate = (pc.flags & 2u) != 0u;
          float prior[EPL];
          [[unroll]] for (uint t = 0; t < EPL; ++t) {
            const uint e = SG_LANE + t * SGL, r = e / 16, col = e % 16;
            prior[t] = accumulate && e < 256 && mb + r < pc.M && nb + col < pc.N
                           ? y[y_base + (mb + r) * pc.y_stride + nb + col]
                           : 0.0;
          }
          [[unroll]] for (uint t = 0; t < EPL; ++t) {
            const uint e = SG_LANE + t * SGL, r = e / 16, col = e % 16;
            if (e < 256 && mb + r < pc.M && nb + col < pc.N)
              y[y_base + (mb + r) * pc.y_stride + nb + col] = bias_act(nb + col, scratch_at(scratch, e)) + prior[t];
          }
        }
        SG_SYNC();  // all lanes have read the scratch before the next fragment lands
      }
    }
  }
}
