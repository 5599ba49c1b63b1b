#version 450
// Idefics3Connector.pixel_shuffle: out[n, R*(side/s) + C, dy*s*D + dx*D + d] =
// x[n, (R*s + dy)*side + C*s + dx, d]; one invocation per output element.
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push {
  uint total;  // N * S * D
  uint seq, dim, side, scale;
} pc;

void main() {
  uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x;
  if (i >= pc.total) return;
  uint out_dim = pc.dim * pc.scale * pc.scale;
  uint out_seq = pc.seq / (pc.scale * pc.scale);
  uint f = i % out_dim, tok = i / out_dim;
  uint n = tok / out_seq, t = tok - n * out_seq;
  uint osd = pc.side / pc.scale;
  uint R = t / osd, C = t - R * osd;
  uint dy = f / (pc.scale * pc.dim), rem = f - dy * pc.scale * pc.dim;
  uint dx = rem / pc.dim, d = rem - dx * pc.dim;
  uint src_tok = (R * pc.scale + dy) * pc.side + C * pc.scale + dx;
  y[i] = x[(n * pc.seq + src_tok) * pc.dim + d];
}
