#include "model/ops/rope_ref.h"

#include <stdexcept>

namespace smolvk::ops {
namespace {
// The pair (x1, x2) = (x[p], x[p + D/2]) rotated by the table entry; products and sums rounded
// separately, as in q·cos + rotate_half(q)·sin.
void rotate(float x1, float x2, float c, float s, float& y1, float& y2) {
  const float a = x1 * c, b = x2 * s, cc = x2 * c, e = x1 * s;
  y1 = a - b;
  y2 = cc + e;
}
bool in_table(int32_t pos, std::span<const float> table, int64_t D) {
  return pos >= 0 && int64_t(pos) < int64_t(table.size()) / D;
}
}  // namespace

void rope_inplace_ref(std::span<float> x, int64_t rows, int64_t H, int64_t D, std::span<const int32_t> positions,
                      std::span<const float> table) {
  if (x.size() != size_t(rows * H * D) || positions.size() != size_t(rows))
    throw std::invalid_argument("rope_inplace_ref: sizes do not match [rows, H, D]");
  const int64_t half = D / 2;
  for (int64_t r = 0; r < rows; ++r) {
    if (!in_table(positions[r], table, D)) continue;
    const float* cs = &table[size_t(positions[r]) * half * 2];
    for (int64_t h = 0; h < H; ++h) {
      float* v = &x[(r * H + h) * D];
      for (int64_t p = 0; p < half; ++p) rotate(v[p], v[p + half], cs[2 * p], cs[2 * p + 1], v[p], v[p + half]);
    }
  }
}

void rope_qkv_write_ref(std::span<const float> qkv, std::span<const int32_t> positions, std::span<const float> table,
                        int64_t B, int64_t T, int64_t Hq, int64_t Hkv, int64_t D, int64_t C, std::span<float> q_out,
                        std::span<float> k_cache, std::span<float> v_cache) {
  const int64_t heads = Hq + 2 * Hkv, half = D / 2;
  if (qkv.size() != size_t(B * T * heads * D) || positions.size() != size_t(B * T) ||
      q_out.size() != size_t(B * T * Hq * D) || k_cache.size() != size_t(B * Hkv * C * D) ||
      v_cache.size() != size_t(B * Hkv * C * D))
    throw std::invalid_argument("rope_qkv_write_ref: sizes do not match the dims");
  for (int64_t row = 0; row < B * T; ++row) {
    const int32_t pos = positions[row];
    if (!in_table(pos, table, D)) continue;
    const float* cs = &table[size_t(pos) * half * 2];
    const int64_t b = row / T;
    for (int64_t h = 0; h < heads; ++h) {
      const float* x = &qkv[(row * heads + h) * D];
      float* dst;
      bool rotated = true;
      if (h < Hq) {
        dst = &q_out[(row * Hq + h) * D];
      } else {
        if (pos >= C) continue;
        const bool is_k = h < Hq + Hkv;
        const int64_t kh = is_k ? h - Hq : h - Hq - Hkv;
        dst = &(is_k ? k_cache : v_cache)[((b * Hkv + kh) * C + pos) * D];
        rotated = is_k;
      }
      for (int64_t p = 0; p < half; ++p) {
        if (rotated)
          rotate(x[p], x[p + half], cs[2 * p], cs[2 * p + 1], dst[p], dst[p + half]);
        else
          dst[p] = x[p], dst[p + half] = x[p + half];
      }
    }
  }
}

}  // namespace smolvk::ops
