#version 450
// im2col for the SigLIP patch conv (kernel = stride = p, no padding):
// patches[n, py*PW + px, c*p*p + ky*p + kx] = pixels[n, c, py*p + ky, px*p + kx].
// Rows and columns of pixels beyond PH*p / PW*p are never read (the conv ignores them).
// With PIXEL_BYTES the pixels are the processor's tiles before rescale and normalize, one
// byte each (four to a word), and the value taken is lut[c * 256 + byte]: the table holds
// the processor's float for every byte value of every channel, so the result is the same
// bits as normalizing on the host.
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
#ifdef PIXEL_BYTES
layout(std430, binding = 0) readonly buffer Px { uint pixel_words[]; };
layout(std430, binding = 2) readonly buffer Lut { float lut[]; };
#else
layout(std430, binding = 0) readonly buffer Px { float pixels[]; };
#endif
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
#ifdef PIXEL_BYTES
  const uint byte = (pixel_words[src >> 2] >> ((src & 3u) * 8u)) & 0xffu;
  patches[i] = lut[c * 256u + byte];
#else
  patches[i] = pixels[src];
#endif
}
