#version 450
// Flash attention for the vision encoder with scores and output kept in tensor-core registers
// (VK_NV_cooperative_matrix), for devices whose fp32 16x16 fragment is NVIDIA's
// mma.m16n8k16 accumulator layout in subgroups of 32 (Capabilities::coopmat_mma_layout,
// probed at context creation): lane l holds element e of a fragment at row
// g = l/4 (+8 when e ≥ 4), column 2·(l%4) + (e%2) (+8 when bit 1 of e is set).
// Non-causal attention within each tile of S tokens; keys with key_mask[n·S + j] == 0 are
// masked. q, k, v and out hold f16 values; every offset and row stride is a multiple of 8
// elements (16-byte loads).
// A workgroup takes BR = 16·RM·NSG query rows of one (tile, head); subgroup sg owns RM
// fragments of 16 rows from 16·RM·sg, Q as fragments in registers; each K or V fragment
// loaded from shared memory feeds RM matrix products (RM = 2 halves the shared-memory reads
// per product). Per block of BC keys, K and V are staged
// in shared memory as fp16 (the next block's global loads are issued before this block's
// math); each subgroup computes S = Q·Kᵀ into fp32 fragments, applies the scale and the mask
// and runs the online softmax on the fragments' own elements (row maxima and sums across the
// 4 lanes that share a row), rounds P to fp16 (the row sums add the rounded values), rescales
// its output fragments row by row and adds P·V to them. Numerically the same as
// attention_coopmat.comp's encoder: fp16 operands, fp32 scores, sums and output.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;  // NSG · 32
layout(constant_id = 1) const uint D = 64;    // head dim, a multiple of 16
layout(constant_id = 2) const uint BC = 64;   // keys per block, a multiple of 16
layout(constant_id = 3) const uint NSG = 4;   // subgroups per workgroup
layout(constant_id = 4) const uint RM = 1;    // 16-row query fragments per subgroup

layout(std430, binding = 0) readonly buffer QB { uvec4 q8[]; };  // 8 halves per element
layout(std430, binding = 1) readonly buffer KB { uvec4 k8[]; };
layout(std430, binding = 2) readonly buffer VB { uvec4 v8[]; };
layout(std430, binding = 3) readonly buffer MB { int kmask[]; };
layout(std430, binding = 4) writeonly buffer OB { uint o2[]; };  // 2 halves per element

// Offsets and strides in 8-element units.
layout(push_constant) uniform Push {
  uint S, H;
  uint q_off, q_rstride;  // q head h of token r: q8[q_off + r·q_rstride + h·D/8]
  uint k_off, v_off, kv_rstride;
  float scale;            // softmax scale · log2(e)
} pc;

const uint BR = 16 * RM * NSG, D8 = D / 8;
const uint LDK = D + 8, LDK8 = LDK / 8;  // K/V/Q row pitch in halves and in 16-byte words
const uint CH = BC * D8;                 // 8-element chunks of one K (or V) block
const uint PER = (CH + WG - 1) / WG;
const uint NJ = BC / 16, ND = D / 16;    // fragments across a key block, across a head
const float M_INIT = -1.0e30;  // running max before any valid key (finite: no inf − inf)

shared uvec4 Ks[BC * LDK8];  // [key][d]
shared uvec4 Vs[BC * LDK8];  // [key][d]
shared uvec4 Qs[BR * LDK8];  // [row][d], read once into registers
shared uint key_ok[BC];

uvec4 rk[PER], rv[PER];
bool rok[PER];

// Global loads of the K/V block starting at key kb into registers (zeros for masked keys).
void load_block(uint n, uint kb, uint k_base, uint v_base) {
  [[unroll]] for (uint p = 0; p < PER; ++p) {
    const uint c = gl_LocalInvocationID.x + p * WG, j = c / D8, key = kb + j;
    const bool ok = c < CH && key < pc.S && kmask[n * pc.S + key] != 0;
    rok[p] = ok;
    rk[p] = ok ? k8[k_base + key * pc.kv_rstride + c % D8] : uvec4(0);  // zero bits: 0.0
    rv[p] = ok ? v8[v_base + key * pc.kv_rstride + c % D8] : uvec4(0);
  }
}

void store_block() {
  [[unroll]] for (uint p = 0; p < PER; ++p) {
    const uint c = gl_LocalInvocationID.x + p * WG;
    if (c < CH) {
      const uint j = c / D8, s = j * LDK8 + c % D8;
      Ks[s] = rk[p];
      Vs[s] = rv[p];
      if (c % D8 == 0u) key_ok[j] = rok[p] ? 1u : 0u;
    }
  }
}

// Column of fragment element e in this lane (its row is g for e < 4, g + 8 for e ≥ 4).
uint col_of(uint lane, uint e) { return 2u * (lane & 3u) + (e & 1u) + 8u * ((e >> 1) & 1u); }

void main() {
  const uint tid = gl_LocalInvocationID.x, sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
  const uint row0 = gl_WorkGroupID.x * BR, srow = sg * 16 * RM;
  const uint n = gl_WorkGroupID.y / pc.H, h = gl_WorkGroupID.y % pc.H;  // n: tile
  const uint tok0 = n * pc.S;
  const uint k_base = pc.k_off + tok0 * pc.kv_rstride + h * D8;
  const uint v_base = pc.v_off + tok0 * pc.kv_rstride + h * D8;

  for (uint e = tid; e < BR * D8; e += WG) {
    const uint r = e / D8, t = row0 + r;
    Qs[r * LDK8 + e % D8] = t < pc.S ? q8[pc.q_off + (tok0 + t) * pc.q_rstride + h * D8 + e % D8] : uvec4(0);
  }
  load_block(n, 0, k_base, v_base);
  barrier();
  // Fragment r·ND + i: rows srow + 16·r .., head columns 16·i ..
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> qf[RM * ND];
  [[unroll]] for (uint r = 0; r < RM; ++r)
    [[unroll]] for (uint i = 0; i < ND; ++i)
      coopMatLoadNV(qf[r * ND + i], Qs, (srow + 16 * r) * LDK8 + i * 2, LDK8, false);

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> o[RM * ND];
  [[unroll]] for (uint c = 0; c < RM * ND; ++c) o[c] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  // This lane's two rows (g, g + 8) of each row fragment: running max and sum. vec2s and
  // coopmat temporaries, not arrays indexed per element: those went to local memory (the
  // driver's statistics); the r loops are unrolled, so m[r] and l[r] are registers.
  vec2 m[RM], l[RM];
  [[unroll]] for (uint r = 0; r < RM; ++r) {
    m[r] = vec2(M_INIT);
    l[r] = vec2(0.0);
  }

  for (uint kb = 0; kb < pc.S; kb += BC) {
    barrier();  // every subgroup is done with the previous block
    store_block();
    barrier();
    if (kb + BC < pc.S) load_block(n, kb + BC, k_base, v_base);

    // S = Q·Kᵀ, fragment r·NJ + j: each K fragment loaded once for the RM row fragments.
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s[RM * NJ];
    [[unroll]] for (uint j = 0; j < RM * NJ; ++j) s[j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    [[unroll]] for (uint j = 0; j < NJ; ++j) {
      [[unroll]] for (uint i = 0; i < ND; ++i) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> kf;
        coopMatLoadNV(kf, Ks, j * 16 * LDK8 + i * 2, LDK8, true);
        [[unroll]] for (uint r = 0; r < RM; ++r) s[r * NJ + j] = coopMatMulAddNV(qf[r * ND + i], kf, s[r * NJ + j]);
      }
    }

    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> p[RM * NJ];
    [[unroll]] for (uint r = 0; r < RM; ++r) {
      // Scale and mask; the maxima of this lane's two rows over the 4 lanes sharing them.
      vec2 mx = vec2(M_INIT);
      [[unroll]] for (uint j = 0; j < NJ; ++j) {
        fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> t = s[r * NJ + j];
        [[unroll]] for (uint e = 0; e < 8; ++e) {
          const float x = key_ok[j * 16 + col_of(lane, e)] != 0u ? t[e] * pc.scale : -1.0e38;
          t[e] = x;
          if (e < 4) mx.x = max(mx.x, x);
          else mx.y = max(mx.y, x);
        }
        s[r * NJ + j] = t;
      }
      mx = max(mx, vec2(subgroupShuffleXor(mx.x, 1u), subgroupShuffleXor(mx.y, 1u)));
      mx = max(mx, vec2(subgroupShuffleXor(mx.x, 2u), subgroupShuffleXor(mx.y, 2u)));
      const vec2 m_new = max(m[r], mx), alpha = exp2(m[r] - m_new);
      m[r] = m_new;
      vec2 sum = vec2(0.0);
      // P = exp2(S − max) rounded to fp16 (masked keys: exp2(−1e38 − max) = 0).
      [[unroll]] for (uint j = 0; j < NJ; ++j) {
        fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> t = s[r * NJ + j];
        [[unroll]] for (uint e = 0; e < 8; ++e) {
          const float x = float(float16_t(exp2(t[e] - (e < 4 ? m_new.x : m_new.y))));
          t[e] = x;
          if (e < 4) sum.x += x;
          else sum.y += x;
        }
        p[r * NJ + j] = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>(t);  // exact: the values are halves
      }
      sum += vec2(subgroupShuffleXor(sum.x, 1u), subgroupShuffleXor(sum.y, 1u));
      sum += vec2(subgroupShuffleXor(sum.x, 2u), subgroupShuffleXor(sum.y, 2u));
      l[r] = l[r] * alpha + sum;
      [[unroll]] for (uint c = 0; c < ND; ++c) {
        fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> t = o[r * ND + c];
        [[unroll]] for (uint e = 0; e < 8; ++e) t[e] *= e < 4 ? alpha.x : alpha.y;
        o[r * ND + c] = t;
      }
    }
    // O += P·V: each V fragment loaded once for the RM row fragments.
    [[unroll]] for (uint c = 0; c < ND; ++c) {
      [[unroll]] for (uint j = 0; j < NJ; ++j) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> vf;
        coopMatLoadNV(vf, Vs, j * 16 * LDK8 + c * 2, LDK8, false);
        [[unroll]] for (uint r = 0; r < RM; ++r) o[r * ND + c] = coopMatMulAddNV(p[r * NJ + j], vf, o[r * ND + c]);
      }
    }
  }

  // out [N, S, H, D] as f16; elements e and e + 1 are adjacent columns: one word. A row
  // without a valid key gets zeros.
  [[unroll]] for (uint r = 0; r < RM; ++r) {
    const vec2 inv = vec2(l[r].x > 0.0 ? 1.0 / l[r].x : 0.0, l[r].y > 0.0 ? 1.0 / l[r].y : 0.0);
    const uint t0 = row0 + srow + 16 * r + lane / 4u;
    [[unroll]] for (uint c = 0; c < ND; ++c) {
      const fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> t = o[r * ND + c];
      [[unroll]] for (uint e = 0; e < 8; e += 2) {  // elements e, e + 1: adjacent columns of one row
        const uint tr = t0 + (e < 4 ? 0u : 8u);
        if (tr < pc.S)
          o2[(((tok0 + tr) * pc.H + h) * D + c * 16 + col_of(lane, e)) >> 1] =
              packHalf2x16(vec2(t[e], t[e + 1]) * (e < 4 ? inv.x : inv.y));
      }
    }
  }
}
