// Weight / bias element loads for the portable path: the tensor is bound as 32-bit words and
// unpacked by half_words.glsl (bf16: the high half of an f32; f16: unpackHalf2x16). Element i
// of a 16-bit tensor lives in word i >> 1, half i & 1; `off` is the element offset of the
// tensor inside its (alignment-rounded) binding. The includer declares the buffer and names it
// WORDS. Defines: WEIGHT_F16 or WEIGHT_BF16 (else f32).
#if defined(WEIGHT_F16) && !defined(W_F16)
#define W_F16 1
#endif
#if defined(WEIGHT_F16) || defined(WEIGHT_BF16)
#include "half_words.glsl"
float load_elem(uint i) { return unpack2(WORDS[i >> 1])[i & 1u]; }
#else
float load_elem(uint i) { return uintBitsToFloat(WORDS[i]); }
#endif
