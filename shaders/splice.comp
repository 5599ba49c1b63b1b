#version 450
// text[targets[r], :] = image[r, :]; targets outside the text rows are skipped.
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer Text { float text[]; };
layout(std430, binding = 1) readonly buffer Img { float img[]; };
layout(std430, binding = 2) readonly buffer Tg { int targets[]; };
layout(push_constant) uniform Push {
  uint total;  // R * H
  uint hidden, text_rows;
} pc;

void main() {
  uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x;
  if (i >= pc.total) return;
  uint r = i / pc.hidden, h = i - r * pc.hidden;
  int dst = targets[r];
  if (dst < 0 || uint(dst) >= pc.text_rows) return;
  text[uint(dst) * pc.hidden + h] = img[i];
}
