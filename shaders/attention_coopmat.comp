#version 450
// Flash attention on tensor cores (VK_NV_cooperative_matrix).
// Encoder (default): non-causal attention within each tile of S tokens, keys masked by
//   key_mask[n·S + j] == 0.
// DECODER: causal attention of T new tokens per batch row over the KV caches [B, Hkv, C, D]
//   (f32, GQA: q head h reads kv head h / G); token t sits at position pos0 + t and sees keys
//   kv_start[b] ≤ j ≤ pos0 + t (binding 3 = kv_start); pos0 is the push value or, unless
//   pos0_param is ~0, params[pos0_param] (binding 5). Key blocks past the causal limit of the
//   workgroup's last row are never loaded; a subgroup skips the blocks past its own rows.
// Encoder with IO_HALF: q, k, v and out hold f16 values (what the kernel rounds f32 inputs to
// anyway), read and written 4 at a time as two words; offsets and strides stay in 4-element
// units.
// A workgroup takes BR = 16·NSG query rows of one (tile or batch row, head); subgroup sg owns rows
// 16·sg .. 16·sg + 15. Per block of BC keys, K and V are narrowed to fp16 in shared memory
// (the next block's global loads are issued before this block is multiplied), then each
// subgroup computes S = Q·Kᵀ (fp16 in, fp32 out) into its scratch, runs the online softmax of
// its rows in f32, writes P as fp16 and adds P·V (via the scratch again) into f32
// accumulators that its lanes keep in registers, rescaled as the row maximum grows.
// Lane ownership (same for softmax and output): LPR lanes per row, lane = row·LPR + part;
// part takes every LPR-th 4-column chunk. Subgroups smaller than 16 take RPL rows per lane.
// EMULATE_COOPMAT (test-only) replaces the matrix instructions with scalar f32 math of the
// same meaning on the same fp16 data, so the indexing can be tested without tensor cores.
#extension GL_GOOGLE_include_directive : enable
#ifndef EMULATE_COOPMAT
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#endif
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;      // NSG · SGS
layout(constant_id = 1) const uint D = 64;        // head dim, a multiple of 16
layout(constant_id = 2) const uint BC = 64;       // keys per block, a multiple of 16
layout(constant_id = 3) const uint SGS = 32;      // subgroup size
layout(constant_id = 4) const uint NSG = 4;       // subgroups per workgroup
layout(constant_id = 5) const uint PREFETCH = 1;  // issue the next block's loads early
layout(constant_id = 6) const bool IO_HALF = false;  // encoder: f16 q, k, v and out

layout(std430, binding = 0) readonly buffer QB { vec4 q4[]; };
layout(std430, binding = 1) readonly buffer KB { vec4 k4[]; };
layout(std430, binding = 2) readonly buffer VB { vec4 v4[]; };
layout(std430, binding = 3) readonly buffer MB { int kmask[]; };
layout(std430, binding = 4) writeonly buffer OB { vec4 o4[]; };
// The same bindings holding f16 values, 4 per element.
layout(std430, binding = 0) readonly buffer QBh { uvec2 q2[]; };
layout(std430, binding = 1) readonly buffer KBh { uvec2 k2[]; };
layout(std430, binding = 2) readonly buffer VBh { uvec2 v2[]; };
layout(std430, binding = 4) writeonly buffer OBh { uvec2 o2[]; };

// Offsets and strides in vec4 units (the host checks every one is a multiple of 4 floats).
#ifdef DECODER
layout(std430, binding = 5) readonly buffer PB { uint params[]; };
layout(push_constant) uniform Push {
  uint T, Hq, G, C;
  uint q_off, q_rstride;    // q head h of token r = b·T + t: q4[q_off + r·q_rstride + h·D/4]
  uint pos0, pos0_param;
  float scale;              // softmax scale · log2(e)
} pc;
#else
layout(push_constant) uniform Push {
  uint S, H;
  uint q_off, q_rstride;    // q head h of token r: q4[q_off + r·q_rstride + h·D/4]
  uint k_off, v_off, kv_rstride;
  float scale;              // softmax scale · log2(e)
} pc;
#endif

const uint BR = 16 * NSG;
const uint D4 = D / 4, BC4 = BC / 4;
const uint LPR = (SGS + 15) / 16;         // lanes per row
const uint RPL = 16 / (SGS / LPR);        // rows per lane
const uint SC4 = BC4 / LPR, OC4 = D4 / LPR;  // 4-column chunks per lane: scores, output
// Shared fp16 data lives in arrays of 16-byte words (8 halves), the f32 scratch likewise:
// fragments load and store in those units, 4-value chunks are one 8-byte access (on the H200
// the GEMM's fragment loads from uvec4 arrays beat float16_t ones; glslang 11 stores fp32
// fragments only to arrays of uint vectors, so the scratch holds f32 bits). Pitches in
// halves/floats.
const uint LDK = D + 8;                    // K/V row pitch (16-byte rows, spread banks)
const uint WH = (BC > D ? BC : D);
const uint LDH = WH + 8;                   // Q staging / P row pitch
const uint LDS = WH + 4;                   // scratch row pitch in floats
const uint LDK8 = LDK / 8, LDH8 = LDH / 8, LDS4 = LDS / 4;  // in array elements
const uint CH = BC * D4;                   // 4-element chunks of one K (or V) block
const uint PER = (CH + WG - 1) / WG;
const float M_INIT = -1.0e30;  // running max before any valid key (finite: no inf − inf)
#ifdef DECODER
#define KV_RSTRIDE D4  // cache rows are contiguous
#else
#define KV_RSTRIDE pc.kv_rstride
#endif

shared uvec4 Ks[BC * LDK8];  // [key][d]
shared uvec4 Vs[BC * LDK8];  // [key][d]
shared uvec4 Hs[BR * LDH8];  // Q staging, then P: [row][key]
shared uvec4 Sc[NSG * 16 * LDS4];  // per-subgroup scratch (f32 bits): S, then P·V
shared uvec4 key_ok[BC / 4];      // per key: 1 if valid
#ifdef EMULATE_COOPMAT
shared uvec2 Qe[BR * LDK / 4];  // Q as 4-half chunks
// The emulation uses no subgroup: its "subgroup" s is invocations s·SGS .. s·SGS + SGS − 1,
// lane exchanges go through shared memory and subgroup barriers become workgroup barriers
// (so no subgroup skips a block: every invocation must reach them; the skip only saves
// work). So it is right whatever subgroups the device runs (lavapipe reports 32 or 64 lanes at
// those widths but runs 16; partial subgroups are legal without full subgroups).
shared float Xe[WG];
float lane_xor(float v, uint o) {
  Xe[gl_LocalInvocationID.x] = v;
  barrier();
  const float r = Xe[gl_LocalInvocationID.x ^ o];  // o < SGS: the same virtual subgroup
  barrier();
  return r;
}
#define SG_ID (gl_LocalInvocationID.x / SGS)
#define SG_LANE (gl_LocalInvocationID.x % SGS)
#define SG_SKIP(c) false
#define SG_SHARED_SYNC() barrier()
#define SG_XOR(v, o) lane_xor(v, o)
#else
#define SG_ID gl_SubgroupID
#define SG_LANE gl_SubgroupInvocationID
#define SG_SKIP(c) (c)
#define SG_SHARED_SYNC() subgroupMemoryBarrierShared(); subgroupBarrier()
#define SG_XOR(v, o) subgroupShuffleXor(v, o)
#endif

// Halves h .. h + 3 (h a multiple of 4) of a uvec4 array, as one 8-byte store.
#define PUT4(arr, h, packed)                                 \
  {                                                          \
    const uint h_ = (h);                                     \
    const uvec2 p_ = (packed);                               \
    if ((h_ & 4u) == 0u) arr[h_ >> 3].xy = p_;               \
    else arr[h_ >> 3].zw = p_;                               \
  }
uvec2 pack4(vec4 v) { return uvec2(packHalf2x16(v.xy), packHalf2x16(v.zw)); }
uvec2 pack4h(f16vec4 v) { return uvec2(packFloat2x16(v.xy), packFloat2x16(v.zw)); }
#define HALF_AT(arr, h) unpackHalf2x16(arr[(h) >> 3][((h) >> 1) & 3u])[(h) & 1u]

// Raw loads: 4 f32 values, or (IO_HALF) 4 halves in .xy.
uvec4 rk[PER], rv[PER];
bool rok[PER];
uvec4 load_k(uint i) { return IO_HALF ? uvec4(k2[i], 0u, 0u) : floatBitsToUint(k4[i]); }
uvec4 load_v(uint i) { return IO_HALF ? uvec4(v2[i], 0u, 0u) : floatBitsToUint(v4[i]); }
// 4 raw values as 4 packed halves (f32 narrowed as the GPU rounds).
uvec2 to_half4(uvec4 r) { return IO_HALF ? r.xy : pack4h(f16vec4(uintBitsToFloat(r))); }

// Global loads of the K/V block starting at key kb (keys < kend) into registers (zeros for
// masked keys).
void load_block(uint n, uint kb, uint kend, uint k_base, uint v_base) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint p = 0; p < PER; ++p) {
    const uint c = tid + p * WG, j = c / D4, d4 = c % D4, key = kb + j;
    bool ok = c < CH && key < kend;
#ifndef DECODER
    if (ok) ok = kmask[n * pc.S + key] != 0;
#endif
    rok[p] = ok;
    rk[p] = ok ? load_k(k_base + key * KV_RSTRIDE + d4) : uvec4(0);  // zero bits: 0.0 either way
    rv[p] = ok ? load_v(v_base + key * KV_RSTRIDE + d4) : uvec4(0);
  }
}

void store_block() {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint p = 0; p < PER; ++p) {
    const uint c = tid + p * WG;
    if (c < CH) {
      const uint j = c / D4, s = j * LDK + 4 * (c % D4);
      PUT4(Ks, s, to_half4(rk[p]))
      PUT4(Vs, s, to_half4(rv[p]))
      if (c % D4 == 0u) key_ok[j >> 2][j & 3u] = rok[p] ? 1u : 0u;
    }
  }
}

// Whether keys j .. j + 3 (j a multiple of 4) of the block at kb are valid and at most `last`
// (the causal limit of a row).
bvec4 visible4(uint j, uint kb, uint last) {
  const uvec4 ok = key_ok[j >> 2];
  return bvec4(ok.x != 0u && kb + j <= last, ok.y != 0u && kb + j + 1u <= last, ok.z != 0u && kb + j + 2u <= last,
               ok.w != 0u && kb + j + 3u <= last);
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint sg = SG_ID, lane = SG_LANE;
  const uint scr = sg * 16 * LDS;
  const uint srow = sg * 16;  // first row of this subgroup within the block
#ifdef DECODER
  const uint rows = pc.T, heads = pc.Hq;
  // The last query blocks see the most keys: they start first.
  const uint row0 = (gl_NumWorkGroups.x - 1u - gl_WorkGroupID.x) * BR;
#else
  const uint rows = pc.S, heads = pc.H;
  const uint row0 = gl_WorkGroupID.x * BR;
#endif
  const uint n = gl_WorkGroupID.y / heads, h = gl_WorkGroupID.y % heads;  // n: tile or batch row
  const uint tok0 = n * rows;
#ifdef DECODER
  const uint pos0 = pc.pos0_param == 0xFFFFFFFFu ? pc.pos0 : params[pc.pos0_param];
  const uint k_base = (n * (pc.Hq / pc.G) + h / pc.G) * pc.C * D4, v_base = k_base;
  const uint kbeg = uint(max(kmask[n], 0));
  const uint kend = min(pc.C, pos0 + min(row0 + BR, rows));  // past the block's last row's keys
  // Past this subgroup's last row's keys (0 for a subgroup of padding rows).
  const uint sg_end = row0 + srow < rows ? min(kend, pos0 + row0 + srow + 16u) : 0u;
#else
  const uint k_base = pc.k_off + tok0 * pc.kv_rstride + h * D4;
  const uint v_base = pc.v_off + tok0 * pc.kv_rstride + h * D4;
  const uint kbeg = 0, kend = pc.S, sg_end = pc.S;
#endif

  // Q rows of the block as fp16 (unscaled: the scale is applied to the f32 scores).
  for (uint e = tid; e < BR * D4; e += WG) {
    const uint r = e / D4, d4 = e % D4, t = row0 + r;
    const uint qi = pc.q_off + (tok0 + t) * pc.q_rstride + h * D4 + d4;
    const uvec2 x = t >= rows ? uvec2(0u) : IO_HALF ? q2[qi] : pack4h(f16vec4(q4[qi]));
#ifdef EMULATE_COOPMAT
    Qe[r * (LDK / 4) + d4] = x;
#else
    PUT4(Hs, r * LDH + 4 * d4, x)
#endif
  }
  barrier();
#ifndef EMULATE_COOPMAT
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> qf[D / 16];
  [[unroll]] for (uint i = 0; i < D / 16; ++i) coopMatLoadNV(qf[i], Hs, srow * LDH8 + i * 2, LDH8, false);
#endif

  // This lane's rows (within the subgroup's 16) and column part.
  const uint part = lane % LPR, rbase = lane / LPR, rstep = SGS / LPR;
  float m[RPL], l[RPL];
  vec4 acc[RPL * OC4];
  [[unroll]] for (uint i = 0; i < RPL; ++i) {
    m[i] = M_INIT;
    l[i] = 0.0;
  }
  [[unroll]] for (uint i = 0; i < RPL * OC4; ++i) acc[i] = vec4(0.0);

  if (PREFETCH != 0u) load_block(n, kbeg, kend, k_base, v_base);
  for (uint kb = kbeg; kb < kend; kb += BC) {
    barrier();  // every subgroup is done with the previous block (and with the Q staging)
    if (PREFETCH == 0u) load_block(n, kb, kend, k_base, v_base);
    store_block();
    barrier();
    if (PREFETCH != 0u && kb + BC < kend) load_block(n, kb + BC, kend, k_base, v_base);
    if (SG_SKIP(kb >= sg_end)) continue;  // subgroup-uniform: none of this subgroup's rows sees the block

    // S = Q·Kᵀ into the scratch (16 × BC, f32).
#ifdef EMULATE_COOPMAT
    for (uint e = lane; e < 16 * BC; e += SGS) {
      const uint r = e / BC, j = e % BC;
      float s = 0.0;
      for (uint d = 0; d < D; ++d) s += unpackHalf2x16(Qe[(srow + r) * (LDK / 4) + d / 4][(d >> 1) & 1u])[d & 1u] * HALF_AT(Ks, j * LDK + d);
      const uint a = scr + r * LDS + j;
      Sc[a >> 2][a & 3u] = floatBitsToUint(s);
    }
#else
    [[unroll]] for (uint j = 0; j < BC / 16; ++j) {
      fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
      [[unroll]] for (uint i = 0; i < D / 16; ++i) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> kf;
        coopMatLoadNV(kf, Ks, j * 16 * LDK8 + i * 2, LDK8, true);
        s = coopMatMulAddNV(qf[i], kf, s);
      }
      coopMatStoreNV(s, Sc, (scr + j * 16) / 4, LDS4, false);
    }
#endif
    SG_SHARED_SYNC();

    // Online softmax of this lane's rows; P (fp16) to Hs, the accumulators rescaled.
    [[unroll]] for (uint i = 0; i < RPL; ++i) {
      const uint r = rbase + i * rstep;
#ifdef DECODER
      const uint last = pos0 + row0 + srow + r;  // the row's last visible key
#else
      const uint last = 0xFFFFFFFFu;
#endif
      vec4 s[SC4];
      bvec4 vis[SC4];
      float mx = M_INIT;
      [[unroll]] for (uint c = 0; c < SC4; ++c) {
        const uint j = 4 * (part + c * LPR);
        vis[c] = visible4(j, kb, last);
        s[c] = uintBitsToFloat(Sc[(scr + r * LDS + j) >> 2]) * pc.scale;
        [[unroll]] for (uint x = 0; x < 4; ++x) {
          if (!vis[c][x]) s[c][x] = -1.0e38;
          mx = max(mx, s[c][x]);
        }
      }
      for (uint o = LPR / 2; o > 0u; o >>= 1) mx = max(mx, SG_XOR(mx, o));
      const float m_new = max(m[i], mx), alpha = exp2(m[i] - m_new);
      float sum = 0.0;
      [[unroll]] for (uint c = 0; c < SC4; ++c) {
        const uint j = 4 * (part + c * LPR), a = (srow + r) * LDH + j;
        f16vec4 p;
        [[unroll]] for (uint x = 0; x < 4; ++x) p[x] = vis[c][x] ? float16_t(exp2(s[c][x] - m_new)) : float16_t(0.0);
        sum += float(p.x) + float(p.y) + float(p.z) + float(p.w);  // the weights P·V uses
        PUT4(Hs, a, pack4h(p))
      }
      for (uint o = LPR / 2; o > 0u; o >>= 1) sum += SG_XOR(sum, o);
      m[i] = m_new;
      l[i] = l[i] * alpha + sum;
      [[unroll]] for (uint c = 0; c < OC4; ++c) acc[i * OC4 + c] *= alpha;
    }
    SG_SHARED_SYNC();

    // P·V (16 × D, f32) into the scratch, then added to the accumulators.
#ifdef EMULATE_COOPMAT
    for (uint e = lane; e < 16 * D; e += SGS) {
      const uint r = e / D, d = e % D;
      float s = 0.0;
      for (uint j = 0; j < BC; ++j) s += HALF_AT(Hs, (srow + r) * LDH + j) * HALF_AT(Vs, j * LDK + d);
      const uint a = scr + r * LDS + d;
      Sc[a >> 2][a & 3u] = floatBitsToUint(s);
    }
#else
    {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> pf[BC / 16];
      [[unroll]] for (uint j = 0; j < BC / 16; ++j) coopMatLoadNV(pf[j], Hs, srow * LDH8 + j * 2, LDH8, false);
      [[unroll]] for (uint c = 0; c < D / 16; ++c) {
        fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> pv = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
        [[unroll]] for (uint j = 0; j < BC / 16; ++j) {
          fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> vf;
          coopMatLoadNV(vf, Vs, j * 16 * LDK8 + c * 2, LDK8, false);
          pv = coopMatMulAddNV(pf[j], vf, pv);
        }
        coopMatStoreNV(pv, Sc, (scr + c * 16) / 4, LDS4, false);
      }
    }
#endif
    SG_SHARED_SYNC();
    [[unroll]] for (uint i = 0; i < RPL; ++i) {
      const uint r = rbase + i * rstep;
      [[unroll]] for (uint c = 0; c < OC4; ++c) {
        acc[i * OC4 + c] += uintBitsToFloat(Sc[(scr + r * LDS + 4 * (part + c * LPR)) >> 2]);
      }
    }
  }

  // out [N, S, H, D] ([B, T, Hq, D]); a row without a valid key gets zeros.
  [[unroll]] for (uint i = 0; i < RPL; ++i) {
    const uint t = row0 + srow + rbase + i * rstep;
    if (t < rows) {
      const float inv = l[i] > 0.0 ? 1.0 / l[i] : 0.0;
      [[unroll]] for (uint c = 0; c < OC4; ++c) {
        const uint oi = ((tok0 + t) * heads + h) * D4 + part + c * LPR;
        if (IO_HALF)
          o2[oi] = pack4(acc[i * OC4 + c] * inv);
        else
          o4[oi] = acc[i * OC4 + c] * inv;
      }
    }
  }
}
