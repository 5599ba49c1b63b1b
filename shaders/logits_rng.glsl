// Counter-based noise for sampling; model/ops/logits_ref.cpp mirrors it bit for bit.
uint lowbias32(uint x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}
uint row_stream(uint seed_lo, uint seed_hi, uint step, uint row) {
  uint h = lowbias32(seed_lo + 0x9e3779b9u);
  h = lowbias32(h ^ seed_hi);
  h = lowbias32(h + step);
  return lowbias32(h ^ (row + 0x632be5abu));
}
// Gumbel(0, 1) = -log(E), E = -log(1 - v) ~ Exp(1), v uniform in (0, 1) with 23 random bits
// (exact in float, as is 1 - v). Small v uses the series of -log(1 - v): log() near 1 is
// only accurate to an absolute 2^-21 on some devices, and small E decides the winner.
float gumbel(uint stream, uint index) {
  uint r = lowbias32(stream ^ lowbias32(index + 0x85ebca6bu));
  float v = (float(r >> 9) + 0.5) * (1.0 / 8388608.0);
  float e;
  if (v < 0.0625) {
    e = v * (1.0 + v * (1.0 / 2.0 + v * (1.0 / 3.0 + v * (1.0 / 4.0 + v * (1.0 / 5.0 + v * (1.0 / 6.0))))));
  } else {
    e = -log(1.0 - v);
  }
  return -log(e);
}
// Order-preserving map float -> uint (larger float, larger key) and back.
uint order_key(float v) {
  uint u = floatBitsToUint(v);
  return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}
float key_value(uint k) {
  return uintBitsToFloat((k & 0x80000000u) != 0u ? (k & 0x7FFFFFFFu) : ~k);
}
