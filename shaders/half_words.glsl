// f16 / bf16 values stored two per 32-bit word: element i is half i & 1 of word i >> 1.
// Defines: W_F16 or W_BF16. bf16 → f32 is exact (the high 16 bits of the f32).
#ifndef HALF_WORDS_GLSL
#define HALF_WORDS_GLSL
vec2 unpack2(uint word) {
#if defined(W_F16)
  return unpackHalf2x16(word);
#else
  return vec2(uintBitsToFloat(word << 16), uintBitsToFloat(word & 0xffff0000u));
#endif
}
// The eight values of one 16-byte load.
void unpack8(uvec4 u, out vec4 a, out vec4 b) {
  a = vec4(unpack2(u.x), unpack2(u.y));
  b = vec4(unpack2(u.z), unpack2(u.w));
}
#endif
