// Workgroup reductions for the logits shaders; every invocation receives the result.
// The includer defines WG (a power of two) and SUBGROUP when subgroup arithmetic may be used.
shared float red_f[WG];
shared uint red_u[WG];

// Lexicographic "better": larger value, then lower index (torch.argmax's tie rule).
bool better(float v, uint i, float bv, uint bi) { return v > bv || (v == bv && i < bi); }

#ifdef SUBGROUP
float wg_sum(float v) {
  v = subgroupAdd(v);
  if (subgroupElect()) red_f[gl_SubgroupID] = v;
  barrier();
  float s = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red_f[i];
  barrier();
  return s;
}
uint wg_umax(uint v) {
  v = subgroupMax(v);
  if (subgroupElect()) red_u[gl_SubgroupID] = v;
  barrier();
  uint r = 0u;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) r = max(r, red_u[i]);
  barrier();
  return r;
}
uint wg_umin(uint v) {
  v = subgroupMin(v);
  if (subgroupElect()) red_u[gl_SubgroupID] = v;
  barrier();
  uint r = 0xFFFFFFFFu;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) r = min(r, red_u[i]);
  barrier();
  return r;
}
void wg_argmax(inout float v, inout uint idx) {
  float m = subgroupMax(v);
  uint i = subgroupMin(v == m ? idx : 0xFFFFFFFFu);
  if (subgroupElect()) {
    red_f[gl_SubgroupID] = m;
    red_u[gl_SubgroupID] = i;
  }
  barrier();
  v = red_f[0];
  idx = red_u[0];
  for (uint s = 1u; s < gl_NumSubgroups; ++s)
    if (better(red_f[s], red_u[s], v, idx)) {
      v = red_f[s];
      idx = red_u[s];
    }
  barrier();
}
#else
float wg_sum(float v) {
  uint t = gl_LocalInvocationID.x;
  red_f[t] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1) {
    if (t < s) red_f[t] += red_f[t + s];
    barrier();
  }
  float r = red_f[0];
  barrier();
  return r;
}
uint wg_umax(uint v) {
  uint t = gl_LocalInvocationID.x;
  red_u[t] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1) {
    if (t < s) red_u[t] = max(red_u[t], red_u[t + s]);
    barrier();
  }
  uint r = red_u[0];
  barrier();
  return r;
}
uint wg_umin(uint v) {
  uint t = gl_LocalInvocationID.x;
  red_u[t] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1) {
    if (t < s) red_u[t] = min(red_u[t], red_u[t + s]);
    barrier();
  }
  uint r = red_u[0];
  barrier();
  return r;
}
void wg_argmax(inout float v, inout uint idx) {
  uint t = gl_LocalInvocationID.x;
  red_f[t] = v;
  red_u[t] = idx;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1) {
    if (t < s && better(red_f[t + s], red_u[t + s], red_f[t], red_u[t])) {
      red_f[t] = red_f[t + s];
      red_u[t] = red_u[t + s];
    }
    barrier();
  }
  v = red_f[0];
  idx = red_u[0];
  barrier();
}
#endif
