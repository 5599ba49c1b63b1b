// Workgroup sum: every invocation gets the same total (same summation order everywhere).
// The includer defines WG (the workgroup size, a power of two) and SUBGROUP when subgroup
// arithmetic may be used.
#include "tree_reduce.glsl"
#ifdef SUBGROUP
shared float red_buf[WG];  // one slot per subgroup is enough; WG covers subgroup size 1
float wg_sum(float v) {
  v = subgroupAdd(v);
  if (subgroupElect()) red_buf[gl_SubgroupID] = v;
  barrier();
  float s = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red_buf[i];
  barrier();
  return s;
}
#else
shared float red_buf[WG];
float wg_sum(float v) {
  uint t = gl_LocalInvocationID.x;
  red_buf[t] = v;
  barrier();
  TREE_REDUCE(red_buf, t, t, WG, 1u, 0u, TREE_ADD)
  float r = red_buf[0];
  barrier();
  return r;
}
#endif
