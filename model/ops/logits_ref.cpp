#include "model/ops/logits_ref.h"

#include <bit>
#include <cmath>
#include <limits>

namespace smolvk::ops::ref {
namespace {

uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

uint32_t row_stream(uint64_t seed, uint32_t step, uint32_t row) {
  uint32_t h = lowbias32(uint32_t(seed) + 0x9e3779b9u);
  h = lowbias32(h ^ uint32_t(seed >> 32));
  h = lowbias32(h + step);
  return lowbias32(h ^ (row + 0x632be5abu));
}

float gumbel(uint32_t stream, uint32_t index) {
  const uint32_t r = lowbias32(stream ^ lowbias32(index + 0x85ebca6bu));
  const float v = (float(r >> 9) + 0.5f) * (1.0f / 8388608.0f);
  float e;
  if (v < 0.0625f)
    e = v * (1.0f + v * (1.0f / 2 + v * (1.0f / 3 + v * (1.0f / 4 + v * (1.0f / 5 + v * (1.0f / 6))))));
  else
    e = -std::log(1.0f - v);
  return -std::log(e);
}

uint32_t order_key(float v) {
  const uint32_t u = std::bit_cast<uint32_t>(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

float key_value(uint32_t k) { return std::bit_cast<float>((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k); }

// Largest key u in [lo, hi] with enough(u) true; enough must be monotone (true at lo).
template <class F>
uint32_t bisect(uint32_t lo, uint32_t hi, F enough) {
  while (lo < hi) {
    const uint32_t mid = lo + ((hi - lo) >> 1) + ((hi - lo) & 1u);
    if (enough(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

}  // namespace

float sample_gumbel(uint64_t seed, uint32_t step, uint32_t row, uint32_t index) {
  return gumbel(row_stream(seed, step, row), index);
}

std::vector<int32_t> argmax(std::span<const float> logits, int64_t rows, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits.data() + r * vocab;
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (l[i] > l[best]) best = i;
    ids[size_t(r)] = int32_t(best);
  }
  return ids;
}

std::vector<int32_t> sample(std::span<const float> logits, int64_t rows, int64_t vocab, const SamplingParams& p,
                            uint32_t step) {
  if (p.temperature <= 0 || p.top_k == 1) return argmax(logits, rows, vocab);
  const float inv_temp = 1.0f / p.temperature;
  std::vector<int32_t> ids(static_cast<size_t>(rows));
  std::vector<float> z(static_cast<size_t>(vocab));
  for (int64_t r = 0; r < rows; ++r) {
    uint32_t kmin = UINT32_MAX, kmax = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      z[i] = logits[size_t(r * vocab + i)] * inv_temp;
      kmin = std::min(kmin, order_key(z[i]));
      kmax = std::max(kmax, order_key(z[i]));
    }
    uint32_t thr = kmin;
    if (p.top_k > 0 && p.top_k < vocab)
      thr = bisect(kmin, kmax, [&](uint32_t t) {
        int64_t c = 0;
        for (float v : z) c += order_key(v) >= t;
        return c >= p.top_k;
      });
    if (p.top_p < 1) {
      const float zmax = key_value(kmax);
      auto mass = [&](uint32_t t) {
        double s = 0;
        for (float v : z)
          if (order_key(v) >= t) s += std::exp(double(v) - zmax);
        return s;
      };
      const double target = double(p.top_p) * mass(thr);
      thr = bisect(thr, kmax, [&](uint32_t t) { return mass(t) >= target; });
    }
    const uint32_t stream = row_stream(p.seed, step, uint32_t(r));
    float best = -std::numeric_limits<float>::infinity();
    int64_t bi = -1;
    for (int64_t i = 0; i < vocab; ++i) {
      if (order_key(z[i]) < thr) continue;
      const float s = z[i] + gumbel(stream, uint32_t(i));
      if (bi < 0 || s > best) {
        best = s;
        bi = i;
      }
    }
    ids[size_t(r)] = int32_t(bi);
  }
  return ids;
}

}  // namespace smolvk::ops::ref
