#version 450
// im2col for the SigLIP patch conv (kernel = stride = p, no padding):
// patches[n, py*PW + px, c*p*p + ky*p + kx] = pixels[n, c, py*p + ky, px*p + kx].
// Rows and columns of pixels beyond PH*p / PW*p are never read (the conv ignores them).
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Px { float pixels[]; };
layout(std430, binding = 1) writeonly buffer Pt { float patches[]; };
layout(push_constant) uniform Push {
  uint total;       // N * PH * PW * C * p * p
  uint channels, height, width, psize, ph, pw;
} pc;

void main() {
  uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x;
  if (i >= pc.total) return;
  uint pp = pc.psize * pc.psize;
  uint k = pc.channels * pp;
  uint f = i % k, tok = i / k;
  uint c = f / pp, kyx = f - c * pp;
  uint ky = kyx / pc.psize, kx = kyx - ky * pc.psize;
  uint n = tok / (pc.ph * pc.pw), pyx = tok - n * pc.ph * pc.pw;
  uint py = pyx / pc.pw, px = pyx - py * pc.pw;
  uint src = ((n * pc.channels + c) * pc.height + py * pc.psize + ky) * pc.width + px * pc.psize + kx;
  patches[i] = pixels[src];
}
