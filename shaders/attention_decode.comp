#version 450
// Decoder attention for few query rows (a decode step: T·G ≤ R rows per (batch row, kv
// head)). Same bindings, push block and output contract as attention.comp, but instead of
// walking key tiles with an online softmax (four barriers per tile, most invocations idle for
// one query row), a workgroup scores every key of its split at once, one key per invocation,
// keeps the scores in shared memory, and then sums P·V with each invocation owning one output
// element d of a slice of the keys.
// gl_WorkGroupID: x = query block of R rows, y = batch row · Hkv + kv head, z = key split
// (at most SK keys). Several splits write unnormalised partials merged by attention_combine.
// OPROJ (one split, T = 1, G ≤ R): the workgroup also applies its heads' columns of the
// output projection to ROWS output rows, h[b, j] += Σ_c att[c] · W_o[j, kvh·G·D + c], adding
// into the residual stream with float atomics (binding 4 = h); gl_WorkGroupID.x picks the
// rows (each such workgroup recomputes the attention: the K/V rows come from L2, and one
// workgroup streaming all of W_o's columns alone was the bottleneck). The workgroups of kv
// head 0 zero their rows of the next residual buffer (binding 6) for the MLP to fill.
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : enable
#ifdef OPROJ
#extension GL_EXT_shader_atomic_float : require
#endif
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;  // ≥ D / 4
layout(constant_id = 1) const uint D = 64;    // head dim, a multiple of 4
layout(constant_id = 2) const uint R = 4;     // query rows per workgroup (power of 2, ≤ WG)
layout(constant_id = 3) const uint SK = 512;  // keys per split at most
layout(constant_id = 4) const uint VPRE = 8;  // value vectors per invocation loaded up front
layout(constant_id = 5) const uint NIN = 0;   // OPROJ: G·D inputs per projection row (multiple of 8)
layout(constant_id = 6) const uint ROWS = 32; // OPROJ: projection rows per workgroup (≤ WG)

layout(std430, binding = 0) readonly buffer QB { float q[]; };
layout(std430, binding = 1) readonly buffer KB { vec4 k4[]; };
layout(std430, binding = 2) readonly buffer VB { vec4 v4[]; };
layout(std430, binding = 3) readonly buffer MB { int kv_start[]; };
layout(std430, binding = 5) readonly buffer PB { uint params[]; };
#ifdef OPROJ
layout(std430, binding = 4) buffer HB { float hres[]; };
layout(std430, binding = 6) writeonly buffer HZ { float hzero[]; };
#if defined(W_F32)
layout(std430, binding = 7) readonly buffer WO { float wo[]; };
layout(std430, binding = 7) readonly buffer WO4 { vec4 wo4[]; };
#else
layout(std430, binding = 7) readonly buffer WO { uint wo[]; };
layout(std430, binding = 7) readonly buffer WO4 { uvec4 wo4[]; };
#endif
#else
layout(std430, binding = 4) writeonly buffer OB { float o[]; };
layout(std430, binding = 6) writeonly buffer MLB { vec2 ml[]; };
#endif

layout(push_constant) uniform Push {
  uint T, G, Hq, Hkv;
  uint q_off, q_bstride, q_rstride;
  uint k_off, v_off, kv_bstride, kv_hstride, kv_rstride;  // k/v offsets and strides: multiples of 4
  uint nkeys;  // cache capacity C
  uint pos0, pos0_param;
  uint split_keys;
  float scale;  // softmax scale · log2(e)
  uint H, wo_off, h_off, hz_off;  // OPROJ: hidden size, W_o / h / next-h element offsets
} pc;

const uint D4 = D / 4;
const uint KPRE = D4 <= 16u ? D4 : 1u;  // K row prefetched into registers up to D = 64
const uint NSL = WG / D4;  // key slices of the P·V sum (an invocation owns 4 columns)
const uint GT = WG / R;   // invocations per row in the softmax reductions
const float MASKED = -1.0e38;
const float M_INIT = -1.0e30;

#include "tree_reduce.glsl"

#ifdef OPROJ
#if !defined(W_F32)
#include "half_words.glsl"
#endif
#endif

shared vec4 Qs[R * D4];
shared float Ss[R * SK];
shared float Red[WG * R];
shared vec2 row_ml[R];  // (max, sum) per row
#ifdef OPROJ
shared float Os[R * D];  // the normalised attention rows, then multiplied by W_o
#endif

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint b = gl_WorkGroupID.y / pc.Hkv, kvh = gl_WorkGroupID.y % pc.Hkv;
#ifdef OPROJ
  const uint row0 = 0u;  // x picks the projection rows; T·G ≤ R rows in one block
#else
  const uint row0 = gl_WorkGroupID.x * R;
#endif
  const uint rows_here = min(R, pc.T * pc.G - row0);
  // pos0_param's top bit set: each batch row has its own word, row b's at (pos0_param & ~top) + b.
  const uint pos0 = pc.pos0_param == 0xFFFFFFFFu ? pc.pos0 : params[(pc.pos0_param & 0x7FFFFFFFu) + (pc.pos0_param >> 31u) * b];
  const uint kbeg = max(uint(max(kv_start[b], 0)), gl_WorkGroupID.z * pc.split_keys);
  const uint kend = min(min(pc.nkeys, pos0 + (row0 + rows_here - 1u) / pc.G + 1u),
                        (gl_WorkGroupID.z + 1u) * pc.split_keys);
  const uint nk = kend > kbeg ? kend - kbeg : 0u;

  // Issue this invocation's first K row and its first VPRE value vectors now, so their
  // latency overlaps the q staging, the scores and the softmax reductions.
  const uint kv_base = b * pc.kv_bstride + kvh * pc.kv_hstride;
  const uint kbase = (pc.k_off + kv_base + kbeg * pc.kv_rstride) / 4u, vstep = pc.kv_rstride / 4u;
  vec4 kpre[KPRE];
  if (tid < nk && KPRE == D4)
    [[unroll]] for (uint c = 0; c < KPRE; ++c) kpre[c] = k4[kbase + tid * vstep + c];
  const uint d4 = tid % D4, sl = tid / D4;
  const uint vbase = (pc.v_off + kv_base + kbeg * pc.kv_rstride) / 4u + d4;
  vec4 vpre[VPRE];
  [[unroll]] for (uint i = 0; i < VPRE; ++i) {
    const uint j = sl + i * NSL;
    vpre[i] = sl < NSL && j < nk ? v4[vbase + j * vstep] : vec4(0.0);
  }

  for (uint e = tid; e < R * D4; e += WG) {
    const uint r = e / D4, d = 4u * (e % D4);
    vec4 val = vec4(0.0);
    if (r < rows_here) {
      const uint rr = row0 + r, t = rr / pc.G, h = kvh * pc.G + rr % pc.G;
      const uint src = pc.q_off + b * pc.q_bstride + t * pc.q_rstride + h * D + d;
      val = vec4(q[src], q[src + 1u], q[src + 2u], q[src + 3u]) * pc.scale;
    }
    Qs[e] = val;
  }
  barrier();

  for (uint j = tid; j < nk; j += WG) {
    const uint key = kbeg + j;
    float s[R];
    for (uint r = 0; r < R; ++r) s[r] = 0.0;
    [[unroll]] for (uint c = 0; c < D4; ++c) {
      const vec4 kv = KPRE == D4 && j == tid ? kpre[c % KPRE] : k4[kbase + j * vstep + c];
      for (uint r = 0; r < R; ++r) s[r] += dot(Qs[r * D4 + c], kv);
    }
    for (uint r = 0; r < R; ++r) {
      const bool ok = r < rows_here && key <= pos0 + (row0 + r) / pc.G;
      Ss[r * SK + j] = ok ? s[r] : MASKED;
    }
  }
  barrier();

  // Row r's max and sum over its scores, by the GT invocations of group r.
  const uint gr = tid / GT, part = tid % GT;
  float mx = M_INIT;
  for (uint j = part; j < nk; j += GT) mx = max(mx, Ss[gr * SK + j]);
  Red[tid] = mx;
  barrier();
  TREE_REDUCE(Red, tid, part, GT, 1u, 0u, max)
  const float m = Red[gr * GT];
  float sum = 0.0;
  for (uint j = part; j < nk; j += GT) {
    const float sc = Ss[gr * SK + j];
    const float p = sc > MASKED ? exp2(sc - m) : 0.0;
    Ss[gr * SK + j] = p;
    sum += p;
  }
  barrier();  // every row max has been read before Red is reused
  Red[tid] = sum;
  barrier();
  TREE_REDUCE(Red, tid, part, GT, 1u, 0u, TREE_ADD)
  const float l = Red[gr * GT];
  if (part == 0u) row_ml[gr] = vec2(m, l);
  barrier();  // Red is reused by the P·V partial sums; row_ml is complete

  // P·V: invocation (slice sl, column chunk d4) sums every NSL-th key; two keys per step so
  // two loads are in flight.
  vec4 acc[R];
  for (uint r = 0; r < R; ++r) acc[r] = vec4(0.0);
  if (sl < NSL) {
    [[unroll]] for (uint i = 0; i < VPRE; ++i) {
      const uint j = sl + i * NSL;
      if (j < nk)
        for (uint r = 0; r < R; ++r) acc[r] += Ss[r * SK + j] * vpre[i];
    }
    uint j = sl + VPRE * NSL;
    for (; j + NSL < nk; j += 2u * NSL) {
      const vec4 va = v4[vbase + j * vstep], vb = v4[vbase + (j + NSL) * vstep];
      for (uint r = 0; r < R; ++r) acc[r] += Ss[r * SK + j] * va + Ss[r * SK + j + NSL] * vb;
    }
    if (j < nk) {
      const vec4 va = v4[vbase + j * vstep];
      for (uint r = 0; r < R; ++r) acc[r] += Ss[r * SK + j] * va;
    }
  }

  const uint out_rows = (gl_NumWorkGroups.y / pc.Hkv) * pc.T * pc.Hq;
  const bool split = gl_NumWorkGroups.z > 1u;
  // The slices' partial sums meet in Red, one vector component at a time.
  for (uint comp = 0; comp < 4u; ++comp) {
    if (sl < NSL)
      for (uint r = 0; r < R; ++r) Red[(sl * R + r) * D4 + d4] = acc[r][comp];
    barrier();
    for (uint e = tid; e < rows_here * D4; e += WG) {
      const uint r = e / D4, c4 = e % D4, dd = 4u * c4 + comp;
      float a = 0.0;
      for (uint s = 0; s < NSL; ++s) a += Red[(s * R + r) * D4 + c4];
      const uint rr = row0 + r, t = rr / pc.G, h = kvh * pc.G + rr % pc.G;
      const uint orow = (b * pc.T + t) * pc.Hq + h;
#ifdef OPROJ
      Os[r * D + dd] = row_ml[r].y > 0.0 ? a / row_ml[r].y : 0.0;
#else
      if (split) {
        o[(gl_WorkGroupID.z * out_rows + orow) * D + dd] = a;
        if (dd == 0u) ml[gl_WorkGroupID.z * out_rows + orow] = row_ml[r];
      } else {
        o[orow * D + dd] = row_ml[r].y > 0.0 ? a / row_ml[r].y : 0.0;
      }
#endif
    }
    barrier();  // Red is rewritten for the next component
  }
#ifdef OPROJ
  // Output row j of the projection from this workgroup's G·D attention values, which are
  // contiguous columns of W_o's row j (heads kvh·G .. kvh·G + G − 1): one row per invocation,
  // its NIN weights loaded at once.
  const uint in_row = pc.Hq * D;  // W_o is [H, Hq·D]
  const uint j = gl_WorkGroupID.x * ROWS + tid;
  if (tid < ROWS && j < pc.H) {
    const uint wrow = pc.wo_off + j * in_row + kvh * pc.G * D;
    float acc_o = 0.0;
    [[unroll]] for (uint c = 0; c < NIN; c += 8u) {
#if defined(W_F32)
      const vec4 wa = wo4[(wrow + c) >> 2], wb = wo4[((wrow + c) >> 2) + 1u];
#else
      vec4 wa, wb;
      unpack8(wo4[(wrow + c) >> 3], wa, wb);
#endif
      acc_o += dot(wa, vec4(Os[c], Os[c + 1u], Os[c + 2u], Os[c + 3u])) +
               dot(wb, vec4(Os[c + 4u], Os[c + 5u], Os[c + 6u], Os[c + 7u]));
    }
    atomicAdd(hres[pc.h_off + b * pc.H + j], acc_o);
    if (kvh == 0u) hzero[pc.hz_off + b * pc.H + j] = 0.0;
  }
#endif
}
