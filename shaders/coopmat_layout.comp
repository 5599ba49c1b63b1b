#version 450
// Probe (run once at context creation where tensor cores are used): which invocation holds
// which element of a 16x16 fp32 cooperative matrix. Lane l sets its element e to l·64 + e and
// the matrix is stored row-major at out[0..255]; out[256] = elements per invocation,
// out[257] = subgroup size. The host compares this with the layout attention_flash.comp
// indexes directly (Capabilities::coopmat_mma_layout).
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer Out { float o[]; };

void main() {
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> m = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  for (int e = 0; e < m.length(); ++e) m[e] = float(gl_SubgroupInvocationID * 64u + uint(e));
  coopMatStoreNV(m, o, 0, 16, false);
  if (gl_LocalInvocationID.x == 0u) {
    o[256] = float(m.length());
    o[257] = float(gl_SubgroupSize);
  }
}
