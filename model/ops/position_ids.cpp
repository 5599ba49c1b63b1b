#include "model/ops/position_ids.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace smolvk::ops {
namespace {

// torch.arange(start, end, step) with float32 output on the CPU: the length and each value
// start + step·i are computed in double, then the value is rounded to float.
std::vector<float> arange_f32(double start, double end, double step) {
  if (!(step > 0) || !std::isfinite(step)) return {};
  const auto n = int64_t(std::ceil((end - start) / step));
  std::vector<float> v(size_t(std::max<int64_t>(n, 0)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(start + step * double(i));
  return v;
}

// torch.bucketize(x, boundaries, right=True): the number of boundaries <= x.
int32_t bucketize_right(const std::vector<float>& boundaries, float x) {
  int32_t c = 0;
  for (float b : boundaries) c += b <= x ? 1 : 0;
  return c;
}

std::vector<int32_t> buckets(int64_t count, const std::vector<float>& boundaries) {
  // `1 / nb_patches` is a float32 tensor division; arange takes its value as the step.
  const float step = 1.0f / float(count);
  std::vector<int32_t> b;
  for (float f : arange_f32(0.0, 1.0 - 1e-6, double(step))) b.push_back(bucketize_right(boundaries, f));
  return b;
}

}  // namespace

PatchLayout patch_layout(std::span<const uint8_t> pixel_mask, int64_t n, int64_t height, int64_t width, int patch,
                         int patches_per_side) {
  if (n < 0 || patch < 1 || patches_per_side < 1 || height < patch || width < patch)
    throw std::invalid_argument(
        "patch_layout: need N >= 0, patch >= 1, patches_per_side >= 1 and "
        "H, W >= patch; got N=" +
        std::to_string(n) + " H=" + std::to_string(height) + " W=" + std::to_string(width) +
        " patch=" + std::to_string(patch) + " patches_per_side=" + std::to_string(patches_per_side));
  if (int64_t(pixel_mask.size()) != n * height * width)
    throw std::invalid_argument("patch_layout: pixel_mask has " + std::to_string(pixel_mask.size()) +
                                " values, expected N·H·W = " + std::to_string(n * height * width));
  PatchLayout L;
  L.tiles = n;
  L.grid_rows = height / patch;
  L.grid_cols = width / patch;
  L.seq = L.grid_rows * L.grid_cols;
  L.position_ids.assign(size_t(n * L.seq), 0);
  L.valid.assign(size_t(n * L.seq), 0);
  const int P = patches_per_side;
  const std::vector<float> boundaries = arange_f32(1.0 / P, 1.0, 1.0 / P);

  for (int64_t t = 0; t < n; ++t) {
    const uint8_t* m = pixel_mask.data() + t * height * width;
    int32_t* valid = L.valid.data() + t * L.seq;
    int64_t real = 0;
    for (int64_t py = 0; py < L.grid_rows; ++py)
      for (int64_t px = 0; px < L.grid_cols; ++px) {
        bool any = false;
        for (int64_t y = py * patch; y < (py + 1) * patch && !any; ++y)
          for (int64_t x = px * patch; x < (px + 1) * patch; ++x)
            if (m[y * width + x]) {
              any = true;
              break;
            }
        valid[py * L.grid_cols + px] = any ? 1 : 0;
        real += any ? 1 : 0;
      }
    int64_t nh = 0, nw = 0;
    for (int64_t py = 0; py < L.grid_rows; ++py) nh += valid[py * L.grid_cols];
    for (int64_t px = 0; px < L.grid_cols; ++px) nw += valid[px];
    const std::vector<int32_t> bh = nh ? buckets(nh, boundaries) : std::vector<int32_t>{};
    const std::vector<int32_t> bw = nw ? buckets(nw, boundaries) : std::vector<int32_t>{};
    if (int64_t(bh.size() * bw.size()) != real)
      throw std::invalid_argument("patch_layout: tile " + std::to_string(t) + " has " + std::to_string(real) +
                                  " real patches, not the " + std::to_string(nh) + "×" + std::to_string(nw) +
                                  " block its first column and row imply");
    int32_t* ids = L.position_ids.data() + t * L.seq;
    size_t k = 0;
    for (int64_t s = 0; s < L.seq; ++s)
      if (valid[s]) {
        ids[s] = bh[k / bw.size()] * P + bw[k % bw.size()];
        ++k;
      }
  }
  return L;
}

std::vector<int> real_tiles(std::span<const float> pixel_values, int64_t n, int64_t channels, int64_t height,
                            int64_t width) {
  const int64_t per = channels * height * width;
  if (n < 0 || per <= 0 || int64_t(pixel_values.size()) != n * per)
    throw std::invalid_argument("real_tiles: pixel_values has " + std::to_string(pixel_values.size()) +
                                " values, expected N·C·H·W = " + std::to_string(n) + "·" + std::to_string(channels) +
                                "·" + std::to_string(height) + "·" + std::to_string(width));
  std::vector<int> keep;
  for (int64_t t = 0; t < n; ++t) {
    const float* p = pixel_values.data() + t * per;
    for (int64_t i = 0; i < per; ++i)
      if (p[i] != 0.0f) {
        keep.push_back(int(t));
        break;
      }
  }
  if (keep.empty() && n > 0) keep.push_back(0);
  return keep;
}

}  // namespace smolvk::ops
