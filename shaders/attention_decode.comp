#version 450
// Decoder attention for few query rows (a decode step: T·G ≤ R rows per (batch row, kv
// head)). Same bindings, push block and output contract as attention.comp, but instead of
// walking key tiles with an online softmax (four barriers per tile, most invocations idle for
// one query row), a workgroup scores every key of its split at once, one key per invocation,
// keeps the scores in shared memory, and then sums P·V with each invocation owning one output
// element d of a slice of the keys.
// gl_WorkGroupID: x = query block of R rows, y = batch row · Hkv + kv head, z = key split
// (at most SK keys). Several splits write unnormalised partials merged by attention_combine.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;  // ≥ D / 4
layout(constant_id = 1) const uint D = 64;    // head dim, a multiple of 4
layout(constant_id = 2) const uint R = 4;     // query rows per workgroup (power of 2, ≤ WG)
layout(constant_id = 3) const uint SK = 512;  // keys per split at most
layout(constant_id = 4) const uint VPRE = 8;  // value vectors per invocation loaded up front

layout(std430, binding = 0) readonly buffer QB { float q[]; };
layout(std430, binding = 1) readonly buffer KB { vec4 k4[]; };
layout(std430, binding = 2) readonly buffer VB { vec4 v4[]; };
layout(std430, binding = 3) readonly buffer MB { int kv_start[]; };
layout(std430, binding = 4) writeonly buffer OB { float o[]; };
layout(std430, binding = 5) readonly buffer PB { uint params[]; };
layout(std430, binding = 6) writeonly buffer MLB { vec2 ml[]; };

layout(push_constant) uniform Push {
  uint T, G, Hq, Hkv;
  uint q_off, q_bstride, q_rstride;
  uint k_off, v_off, kv_bstride, kv_hstride, kv_rstride;  // k/v offsets and strides: multiples of 4
  uint nkeys;  // cache capacity C
  uint pos0, pos0_param;
  uint split_keys;
  float scale;  // softmax scale · log2(e)
} pc;

const uint D4 = D / 4;
const uint KPRE = D4 <= 16u ? D4 : 1u;  // K row prefetched into registers up to D = 64
const uint NSL = WG / D4;  // key slices of the P·V sum (an invocation owns 4 columns)
const uint GT = WG / R;   // invocations per row in the softmax reductions
const float MASKED = -1.0e38;
const float M_INIT = -1.0e30;

shared vec4 Qs[R * D4];
shared float Ss[R * SK];
shared float Red[WG * R];
shared vec2 row_ml[R];  // (max, sum) per row

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint b = gl_WorkGroupID.y / pc.Hkv, kvh = gl_WorkGroupID.y % pc.Hkv;
  const uint row0 = gl_WorkGroupID.x * R;
  const uint rows_here = min(R, pc.T * pc.G - row0);
  const uint pos0 = pc.pos0_param == 0xFFFFFFFFu ? pc.pos0 : params[pc.pos0_param];
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
  for (uint s = GT / 2u; s > 0u; s >>= 1) {
    if (part < s) Red[tid] = max(Red[tid], Red[tid + s]);
    barrier();
  }
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
  for (uint s = GT / 2u; s > 0u; s >>= 1) {
    if (part < s) Red[tid] += Red[tid + s];
    barrier();
  }
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
      if (split) {
        o[(gl_WorkGroupID.z * out_rows + orow) * D + dd] = a;
        if (dd == 0u) ml[gl_WorkGroupID.z * out_rows + orow] = row_ml[r];
      } else {
        o[orow * D + dd] = row_ml[r].y > 0.0 ? a / row_ml[r].y : 0.0;
      }
    }
    barrier();  // Red is rewritten for the next component
  }
}
