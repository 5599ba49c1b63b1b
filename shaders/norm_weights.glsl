// Weight / bias element loads for the portable path: the tensor is bound as 32-bit words and
// unpacked here (bf16: the high half of an f32; f16: unpackHalf2x16). Element i of a 16-bit
// tensor lives in word i >> 1, half i & 1; `off` is the element offset of the tensor inside
// its (alignment-rounded) binding. The includer declares the buffer and names it WORDS.
float load_elem(uint i) {
#if defined(WEIGHT_BF16)
  uint word = WORDS[i >> 1];
  uint h = (i & 1u) != 0u ? (word >> 16) : (word & 0xFFFFu);
  return uintBitsToFloat(h << 16);
#elif defined(WEIGHT_F16)
  vec2 v = unpackHalf2x16(WORDS[i >> 1]);
  return (i & 1u) != 0u ? v.y : v.x;
#else
  return uintBitsToFloat(WORDS[i]);
#endif
}
