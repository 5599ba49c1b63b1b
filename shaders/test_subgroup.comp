#version 450
// Runtime self-test shader (tests/runtime/test_subgroup.cpp): what each invocation sees of its
// subgroup. Eight words per invocation of workgroup 0:
//   0 gl_SubgroupSize, 1 gl_SubgroupInvocationID, 2 gl_SubgroupID, 3 gl_NumSubgroups,
//   4 subgroupAdd(1) in uniform control flow,
//   5 subgroupAdd(1) after a loop whose trip count depends on the lane (0..3 iterations),
//   6 subgroupShuffleXor(gl_SubgroupInvocationID, 1),
//   7 subgroupAdd(gl_SubgroupInvocationID) inside a loop whose trip count is uniform.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) writeonly buffer Out { uint o[]; };
layout(push_constant) uniform Push { uint trips; } pc;
void main() {
  const uint t = gl_LocalInvocationID.x, lane = gl_SubgroupInvocationID;
  uint s = 0u;
  for (uint i = lane % 4u; i < 3u; ++i) s += 1u;  // lane-dependent trip count
  const uint after_loop = subgroupAdd(1u);
  uint in_loop = 0u;
  for (uint i = 0u; i < pc.trips; ++i) in_loop += subgroupAdd(lane);
  o[8u * t + 0u] = gl_SubgroupSize;
  o[8u * t + 1u] = lane;
  o[8u * t + 2u] = gl_SubgroupID;
  o[8u * t + 3u] = gl_NumSubgroups;
  o[8u * t + 4u] = subgroupAdd(1u);
  o[8u * t + 5u] = after_loop + 0u * s;
  o[8u * t + 6u] = subgroupShuffleXor(lane, 1u);
  o[8u * t + 7u] = in_loop;
}
