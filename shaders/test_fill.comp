#version 450
// Runtime self-test shader: out[i] = in[i] * a + b + params[0] (the per-replay value).
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float y[]; };
layout(std430, binding = 2) readonly buffer Params { uint p[]; };
layout(push_constant) uniform Push { uint n; float a; float b; uint use_params; } pc;
void main() {
  uint i = gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x) + gl_GlobalInvocationID.x;
  if (i >= pc.n) return;
  float add = pc.use_params != 0u ? float(p[0]) : 0.0;
  y[i] = x[i] * pc.a + pc.b + add;
}
