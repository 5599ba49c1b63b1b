#version 450
// Probe (run once at context creation where tensor cores are used): which invocation holds
// which element of a 16x16 fp32 cooperative matrix. Lane l sets its element e to l·64 + e and
// the matrix is stored row-major at out[0..255]; out[256] = elements per invocation,
// out[257] = subgroup size. The host compares this with the layout attention_flash.comp
// indexes directly (Capabilities::coopmat_mma_layout).
// Then the order of a 16x16 fp16 matrix's elements as the multiply reads them: lane l sets its
// element e to l·8 + e (exact in fp16), and the matrix is multiplied as A by the identity
// (out[258..513] = A, row-major) and as B (out[514..769] = B); out[770] = its elements per
// invocation (logged under SMOLVK_LOG_COOPMAT_LAYOUT=1). On the H200 (driver 580) both are the
// accumulator's order, B's over (k, n) like A's over (m, k): so B is not held in the order the
// mma.m16n8k16 instruction reads (adjacent k per lane), and a kernel that built B fragments
// from its own 16-byte loads would still be rearranged before each product.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require

layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer Out { float o[]; };
shared float16_t ident[256];

void main() {
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> m = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  for (int e = 0; e < m.length(); ++e) m[e] = float(gl_SubgroupInvocationID * 64u + uint(e));
  coopMatStoreNV(m, o, 0, 16, false);
  if (gl_LocalInvocationID.x == 0u) {
    o[256] = float(m.length());
    o[257] = float(gl_SubgroupSize);
  }

  for (uint i = gl_LocalInvocationID.x; i < 256u; i += 32u) ident[i] = float16_t(i / 16u == i % 16u ? 1.0 : 0.0);
  barrier();
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> id;
  coopMatLoadNV(id, ident, 0, 16, false);
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> h = fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>(0.0);
  for (int e = 0; e < h.length(); ++e) h[e] = float16_t(gl_SubgroupInvocationID * 8u + uint(e));
  const fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> zero = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  coopMatStoreNV(coopMatMulAddNV(h, id, zero), o, 258, 16, false);
  coopMatStoreNV(coopMatMulAddNV(id, h, zero), o, 514, 16, false);
  if (gl_LocalInvocationID.x == 0u) o[770] = float(h.length());
}
