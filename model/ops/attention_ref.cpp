#include "model/ops/attention_ref.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

namespace smolvk::ops {
namespace {
// softmax(q·kᵀ·scale) · v over the keys `valid` accepts; key j's rows at k_row(j) / v_row(j).
void attend_row(const float* q, int64_t nkeys, int64_t D, float scale, const std::function<bool(int64_t)>& valid,
                const std::function<const float*(int64_t)>& k_row, const std::function<const float*(int64_t)>& v_row,
                float* out) {
  std::vector<double> s(size_t(nkeys), 0.0);
  double mx = -INFINITY;
  for (int64_t j = 0; j < nkeys; ++j) {
    if (!valid(j)) continue;
    const float* kj = k_row(j);
    double dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += double(q[d]) * double(kj[d]);
    s[j] = dot * double(scale);
    mx = std::max(mx, s[j]);
  }
  std::vector<double> acc(size_t(D), 0.0);
  double sum = 0;
  for (int64_t j = 0; j < nkeys; ++j) {
    if (!valid(j)) continue;
    const double p = std::exp(s[j] - mx);
    sum += p;
    const float* vj = v_row(j);
    for (int64_t d = 0; d < D; ++d) acc[d] += p * double(vj[d]);
  }
  for (int64_t d = 0; d < D; ++d) out[d] = sum > 0 ? float(acc[d] / sum) : 0.0f;
}
}  // namespace

void attention_decoder_ref(std::span<const float> q, std::span<const float> k_cache, std::span<const float> v_cache,
                           int64_t C, std::span<const int32_t> kv_start, int64_t pos0, const AttentionRefDims& dims,
                           float scale, std::span<float> out) {
  const auto [B, T, Hq, Hkv, D] = dims;
  if (Hkv <= 0 || Hq % Hkv || q.size() != size_t(B * T * Hq * D) || out.size() != q.size() ||
      k_cache.size() != size_t(B * Hkv * C * D) || v_cache.size() != k_cache.size() || kv_start.size() != size_t(B) ||
      pos0 < 0 || pos0 + T > C)
    throw std::invalid_argument("attention_decoder_ref: sizes do not match the dims");
  const int64_t G = Hq / Hkv;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < Hq; ++h) {
        const int64_t kvh = h / G, last = pos0 + t;
        const float* base_k = &k_cache[size_t((b * Hkv + kvh) * C * D)];
        const float* base_v = &v_cache[size_t((b * Hkv + kvh) * C * D)];
        attend_row(
            &q[size_t(((b * T + t) * Hq + h) * D)], pos0 + T, D, scale,
            [&](int64_t j) { return j >= kv_start[b] && j <= last; }, [&](int64_t j) { return base_k + j * D; },
            [&](int64_t j) { return base_v + j * D; }, &out[size_t(((b * T + t) * Hq + h) * D)]);
      }
}

void attention_encoder_ref(std::span<const float> q, std::span<const float> k, std::span<const float> v,
                           std::span<const int32_t> key_mask, int64_t N, int64_t S, int64_t H, int64_t D, float scale,
                           std::span<float> out) {
  const size_t n = size_t(N * S * H * D);
  if (q.size() != n || k.size() != n || v.size() != n || out.size() != n || key_mask.size() != size_t(N * S))
    throw std::invalid_argument("attention_encoder_ref: sizes do not match [N, S, H, D]");
  for (int64_t t = 0; t < N; ++t)
    for (int64_t i = 0; i < S; ++i)
      for (int64_t h = 0; h < H; ++h) {
        auto at = [&](std::span<const float> x, int64_t j) { return &x[size_t(((t * S + j) * H + h) * D)]; };
        attend_row(
            at(q, i), S, D, scale, [&](int64_t j) { return key_mask[size_t(t * S + j)] != 0; },
            [&](int64_t j) { return at(k, j); }, [&](int64_t j) { return at(v, j); },
            &out[size_t(((t * S + i) * H + h) * D)]);
      }
}

}  // namespace smolvk::ops
