#version 450
// Flash attention: an online softmax over key tiles, so scores only ever exist as a BR×BC tile
// in shared memory.
// A workgroup takes BR query rows of one (batch row, kv head). Row r = t·G + g is token t of
// q head kvh·G + g: the G q heads that share a kv head (GQA) share every K/V tile it loads.
// gl_WorkGroupID: x = query block, y = batch row · Hkv + kv head, z = key split.
// Decoder (default): K/V are the caches [B, Hkv, C, D]; query t sits at position pos0 + t and
//   sees keys kv_start[b] ≤ j ≤ pos0 + t (binding 3 = kv_start). pos0 is the push value or,
//   unless pos0_param is ~0, params[pos0_param] (decode replays change only that word), or
//   with pos0_param's top bit, row b's own word (a decode step of rows at different positions).
// ENCODER: K/V are token-major like q; key j of tile n is valid where mask[n·S + j] ≠ 0
//   (binding 3 = mask). Padded query rows still attend to the valid keys.
// One split: the normalised output is written. Several: each split writes its unnormalised
// accumulator to binding 4 and its (max, sum) to binding 6; attention_combine.comp merges.
// Scores are kept in the log2 domain (q is pre-scaled by scale·log2 e).
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint D = 64;   // head dim, a multiple of 4
layout(constant_id = 2) const uint BR = 16;  // query rows per workgroup (power of 2)
layout(constant_id = 3) const uint BC = 32;  // keys per tile (power of 2)
layout(constant_id = 4) const uint TRS = 4;  // query rows per invocation for the scores
layout(constant_id = 5) const uint TRO = 4;  // query rows per invocation for the output

layout(std430, binding = 0) readonly buffer QB { float q[]; };
layout(std430, binding = 1) readonly buffer KB { float k[]; };
layout(std430, binding = 2) readonly buffer VB { float v[]; };
layout(std430, binding = 3) readonly buffer MB { int kmask[]; };
layout(std430, binding = 4) writeonly buffer OB { float o[]; };
layout(std430, binding = 5) readonly buffer PB { uint params[]; };
layout(std430, binding = 6) writeonly buffer MLB { vec2 ml[]; };

layout(push_constant) uniform Push {
  uint T, G, Hq, Hkv;
  uint q_off, q_bstride, q_rstride;                     // q[q_off + b·q_bstride + t·q_rstride + h·D + d]
  uint k_off, v_off, kv_bstride, kv_hstride, kv_rstride;  // k[k_off + b·bs + h·hs + j·rs + d]
  uint nkeys;       // encoder: S; decoder: cache capacity C
  uint pos0, pos0_param;
  uint split_keys;  // keys per split
  float scale;      // softmax scale · log2(e)
} pc;

// Register tiling: each invocation computes TRS rows × TCS keys of the score tile and TRO rows
// × NC4 vec4 columns of the output, so every shared-memory load feeds several FMAs. Rows are
// strided by the row-group count, keys / columns by the invocations per row group.
const uint D4 = D / 4;
const uint KS4 = D4 + 1;  // padded K rows: neighbouring invocations read other banks
const uint RTS = BR / TRS, CTS = WG / RTS, TCS = (BC + CTS - 1) / CTS;
const uint RTO = BR / TRO, CTO = WG / RTO, NC4 = (D4 + CTO - 1) / CTO;
const float MASKED = -1.0e38;  // score of a masked (row, key)
const float M_INIT = -1.0e30;  // running max before any valid key (finite: no inf − inf)

shared vec4 Qs[BR * D4];
shared vec4 Ks[BC * KS4];
shared vec4 Vs[BC * D4];
shared float Ss[BR * BC];
shared float row_m[BR], row_l[BR], row_a[BR];
shared uint key_ok[BC];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint b = gl_WorkGroupID.y / pc.Hkv, kvh = gl_WorkGroupID.y % pc.Hkv;
  const uint nrows = pc.T * pc.G;
  const uint row0 = gl_WorkGroupID.x * BR;
  const uint rows_here = min(BR, nrows - row0);

#ifdef ENCODER
  const uint pos0 = 0;
  uint kbeg = 0, kend = pc.nkeys;
#else
  // pos0_param's top bit set: each batch row has its own word, row b's at (pos0_param & ~top) + b.
  const uint pos0 = pc.pos0_param == 0xFFFFFFFFu ? pc.pos0 : params[(pc.pos0_param & 0x7FFFFFFFu) + (pc.pos0_param >> 31u) * b];
  uint kbeg = uint(max(kmask[b], 0));
  // Causal: the block's last row sees keys up to pos0 + its token index.
  uint kend = min(pc.nkeys, pos0 + (row0 + rows_here - 1u) / pc.G + 1u);
#endif
  const uint split_beg = gl_WorkGroupID.z * pc.split_keys;
  kbeg = max(kbeg, split_beg);
  kend = min(kend, split_beg + pc.split_keys);

  for (uint e = tid; e < BR * D4; e += WG) {
    const uint r = e / D4, d = 4u * (e % D4);
    vec4 val = vec4(0.0);
    if (r < rows_here) {
      const uint rr = row0 + r, t = rr / pc.G, h = kvh * pc.G + rr % pc.G;
      const uint src = pc.q_off + b * pc.q_bstride + t * pc.q_rstride + h * D + d;
      val = vec4(q[src], q[src + 1u], q[src + 2u], q[src + 3u]) * pc.scale;
    }
    Qs[e] = val;
  }
  for (uint r = tid; r < BR; r += WG) {
    row_m[r] = M_INIT;
    row_l[r] = 0.0;
  }
  vec4 acc[TRO * NC4];
  for (uint i = 0; i < TRO * NC4; ++i) acc[i] = vec4(0.0);

  const uint kv_base = b * pc.kv_bstride + kvh * pc.kv_hstride;
  for (uint kb = kbeg; kb < kend; kb += BC) {
    barrier();  // the previous tile's readers are done
    for (uint e = tid; e < BC * D4; e += WG) {
      const uint j = e / D4, d4 = e % D4, key = kb + j;
      bool ok = key < kend;
#ifdef ENCODER
      if (ok) ok = kmask[b * pc.nkeys + key] != 0;
#endif
      vec4 kx = vec4(0.0), vx = vec4(0.0);  // masked keys read as 0: garbage never reaches P·V
      if (ok) {
        const uint src = kv_base + key * pc.kv_rstride + 4u * d4;
        const uint ks = pc.k_off + src, vs = pc.v_off + src;
        kx = vec4(k[ks], k[ks + 1u], k[ks + 2u], k[ks + 3u]);
        vx = vec4(v[vs], v[vs + 1u], v[vs + 2u], v[vs + 3u]);
      }
      Ks[j * KS4 + d4] = kx;
      Vs[e] = vx;
      if (d4 == 0u) key_ok[j] = ok ? 1u : 0u;
    }
    barrier();
    {  // scores
      const uint ci = tid % CTS, ri = tid / CTS;
      float s[TRS * TCS];
      for (uint i = 0; i < TRS * TCS; ++i) s[i] = 0.0;
      for (uint d4 = 0; d4 < D4; ++d4) {
        vec4 qv[TRS];
        for (uint a = 0; a < TRS; ++a) qv[a] = Qs[(ri + a * RTS) * D4 + d4];
        for (uint c = 0; c < TCS; ++c) {
          const uint j = ci + c * CTS;
          if (j < BC) {
            const vec4 kv = Ks[j * KS4 + d4];
            for (uint a = 0; a < TRS; ++a) s[a * TCS + c] += dot(qv[a], kv);
          }
        }
      }
      for (uint a = 0; a < TRS; ++a)
        for (uint c = 0; c < TCS; ++c) {
          const uint r = ri + a * RTS, j = ci + c * CTS;
          if (j < BC) {
            bool ok = r < rows_here && key_ok[j] != 0u;
#ifndef ENCODER
            ok = ok && kb + j <= pos0 + (row0 + r) / pc.G;
#endif
            Ss[r * BC + j] = ok ? s[a * TCS + c] : MASKED;
          }
        }
    }
    barrier();
    for (uint r = tid; r < BR; r += WG) {  // online softmax update of row r
      const float m_old = row_m[r];
      float m_new = m_old;
      for (uint j = 0; j < BC; ++j) m_new = max(m_new, Ss[r * BC + j]);
      float sum = 0.0;
      for (uint j = 0; j < BC; ++j) {
        const float s = Ss[r * BC + j];
        const float p = s > MASKED ? exp2(s - m_new) : 0.0;
        Ss[r * BC + j] = p;
        sum += p;
      }
      const float a = exp2(m_old - m_new);
      row_l[r] = row_l[r] * a + sum;
      row_m[r] = m_new;
      row_a[r] = a;
    }
    barrier();
    {  // acc = acc·alpha + P·V
      const uint ci = tid % CTO, ri = tid / CTO;
      for (uint a = 0; a < TRO; ++a) {
        const float alpha = row_a[ri + a * RTO];
        for (uint c = 0; c < NC4; ++c) acc[a * NC4 + c] *= alpha;
      }
      for (uint j = 0; j < BC; ++j) {
        float p[TRO];
        for (uint a = 0; a < TRO; ++a) p[a] = Ss[(ri + a * RTO) * BC + j];
        for (uint c = 0; c < NC4; ++c) {
          const uint d4 = ci + c * CTO;
          if (d4 < D4) {
            const vec4 vv = Vs[j * D4 + d4];
            for (uint a = 0; a < TRO; ++a) acc[a * NC4 + c] += p[a] * vv;
          }
        }
      }
    }
  }
  barrier();

  const uint out_rows = (gl_NumWorkGroups.y / pc.Hkv) * pc.T * pc.Hq;
  const bool split = gl_NumWorkGroups.z > 1u;
  {
    const uint ci = tid % CTO, ri = tid / CTO;
    for (uint a = 0; a < TRO; ++a)
      for (uint c = 0; c < NC4; ++c) {
        const uint r = ri + a * RTO, d4 = ci + c * CTO;
        if (r < rows_here && d4 < D4) {
          const uint rr = row0 + r, t = rr / pc.G, h = kvh * pc.G + rr % pc.G;
          const uint orow = (b * pc.T + t) * pc.Hq + h;
          vec4 val = acc[a * NC4 + c];
          uint dst = orow * D + 4u * d4;
          if (split) {
            dst += gl_WorkGroupID.z * out_rows * D;
          } else {
            const float l = row_l[r];
            val = l > 0.0 ? val / l : vec4(0.0);
          }
          o[dst] = val.x;
          o[dst + 1u] = val.y;
          o[dst + 2u] = val.z;
          o[dst + 3u] = val.w;
        }
      }
  }
  if (split) {
    for (uint r = tid; r < rows_here; r += WG) {
      const uint rr = row0 + r, t = rr / pc.G, h = kvh * pc.G + rr % pc.G;
      ml[gl_WorkGroupID.z * out_rows + (b * pc.T + t) * pc.Hq + h] = vec2(row_m[r], row_l[r]);
    }
  }
}
