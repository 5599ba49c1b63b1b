#include "loader/resize.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "loader/error.h"

namespace smolvk {
namespace {

// The filters and supports of Resample.c, evaluated in double like Pillow.
double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double filter_value(Resample r, double x) {
  switch (r) {
    case Resample::Box:
      return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
    case Resample::Bilinear:
      x = std::fabs(x);
      return x < 1.0 ? 1.0 - x : 0.0;
    case Resample::Hamming:
      x = std::fabs(x);
      if (x == 0.0) return 1.0;
      if (x >= 1.0) return 0.0;
      x *= std::numbers::pi;
      // Pillow writes these constants as floats.
      return std::sin(x) / x * (double(0.54f) + double(0.46f) * std::cos(x));
    case Resample::Bicubic: {
      constexpr double a = -0.5;
      x = std::fabs(x);
      if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
      return 0.0;
    }
    case Resample::Lanczos:
      return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0;
    case Resample::Nearest:
      break;
  }
  return 0.0;
}

double filter_support(Resample r) {
  switch (r) {
    case Resample::Box:
      return 0.5;
    case Resample::Bilinear:
    case Resample::Hamming:
      return 1.0;
    case Resample::Bicubic:
      return 2.0;
    case Resample::Lanczos:
      return 3.0;
    case Resample::Nearest:
      break;
  }
  return 0.0;
}

// 8 bits for the result, 2 for overflow of negative lobes, the rest for the fraction.
constexpr int kPrecisionBits = 32 - 8 - 2;

// Per output sample: the first input sample, how many follow, and their fixed-point weights.
struct Coeffs {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;  // out_size × ksize
};

Coeffs precompute(int in_size, int out_size, Resample r) {
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter_support(r) * filterscale;
  Coeffs c;
  c.ksize = int(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(size_t(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // C casts truncate toward zero; Pillow relies on that and then clamps.
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = filter_value(r, (x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      c.k[size_t(xx) * c.ksize + x] =
          int32_t(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

uint8_t clip8(int64_t acc) {
  const int64_t v = acc >> kPrecisionBits;  // arithmetic shift: floor
  return uint8_t(std::clamp<int64_t>(v, 0, 255));
}

// Horizontal pass over input rows [row0, row0 + rows).
Image resample_horizontal(const Image& in, int out_w, int row0, int rows, const Coeffs& c) {
  Image out{out_w, rows, std::vector<uint8_t>(size_t(out_w) * rows * 3)};
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in.pixel(0, row0 + y);
    uint8_t* dst = out.rgb.data() + size_t(y) * out_w * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const int32_t* k = &c.k[size_t(xx) * c.ksize];
      const uint8_t* p = src + size_t(c.first[xx]) * 3;
      int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < c.count[xx]; ++x, p += 3) {
        s0 += int64_t(p[0]) * k[x];
        s1 += int64_t(p[1]) * k[x];
        s2 += int64_t(p[2]) * k[x];
      }
      dst[xx * 3 + 0] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
  return out;
}

// Vertical pass; `row_shift` maps the coefficients' input rows onto `in`'s rows.
Image resample_vertical(const Image& in, int out_h, int row_shift, const Coeffs& c) {
  const int w = in.width;
  Image out{w, out_h, std::vector<uint8_t>(size_t(w) * out_h * 3)};
  const size_t stride = size_t(w) * 3;
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = &c.k[size_t(yy) * c.ksize];
    const uint8_t* src = in.rgb.data() + size_t(c.first[yy] - row_shift) * stride;
    uint8_t* dst = out.rgb.data() + size_t(yy) * stride;
    for (size_t i = 0; i < stride; ++i) {
      int64_t s = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < c.count[yy]; ++y) s += int64_t(src[y * stride + i]) * k[y];
      dst[i] = clip8(s);
    }
  }
  return out;
}

// Geometry.c ImagingScaleAffine: source coordinate accumulated in double, truncated.
Image resize_nearest(const Image& in, int out_w, int out_h) {
  const double ax = double(in.width) / out_w, ay = double(in.height) / out_h;
  std::vector<int> xin(out_w);
  double xo = ax * 0.5;
  for (int x = 0; x < out_w; ++x, xo += ax) xin[x] = std::min(int(xo), in.width - 1);
  Image out{out_w, out_h, std::vector<uint8_t>(size_t(out_w) * out_h * 3)};
  double yo = ay * 0.5;
  for (int y = 0; y < out_h; ++y, yo += ay) {
    const int yi = std::min(int(yo), in.height - 1);
    uint8_t* dst = out.rgb.data() + size_t(y) * out_w * 3;
    for (int x = 0; x < out_w; ++x) std::copy_n(in.pixel(xin[x], yi), 3, dst + x * 3);
  }
  return out;
}

}  // namespace

Resample resample_from_pil(int id, const std::string& source) {
  if (id < 0 || id > 5)
    throw LoadError(source + ": resample = " + std::to_string(id) +
                    ", expected a PIL filter id 0..5 (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, "
                    "4 box, 5 hamming)");
  return Resample(id);
}

const char* resample_name(Resample r) {
  static constexpr const char* kNames[] = {"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"};
  return kNames[int(r)];
}

Image resize(const Image& src, int width, int height, Resample filter) {
  if (width <= 0 || height <= 0)
    throw LoadError("resize: target size " + std::to_string(width) + "x" + std::to_string(height) +
                    " must be positive");
  if (src.width <= 0 || src.height <= 0 || src.rgb.size() != size_t(src.width) * src.height * 3)
    throw LoadError("resize: source image " + std::to_string(src.width) + "x" + std::to_string(src.height) + " has " +
                    std::to_string(src.rgb.size()) + " bytes, expected width*height*3");
  if (width == src.width && height == src.height) return src;
  if (filter == Resample::Nearest) return resize_nearest(src, width, height);

  const bool need_h = width != src.width, need_v = height != src.height;
  const Coeffs cv = precompute(src.height, height, filter);
  // The horizontal pass only covers the rows that the vertical pass reads.
  const int row_first = cv.first.front();
  const int row_last = cv.first.back() + cv.count.back();
  if (!need_v) return resample_horizontal(src, width, 0, src.height, precompute(src.width, width, filter));
  if (!need_h) return resample_vertical(src, height, 0, cv);
  const Image tmp =
      resample_horizontal(src, width, row_first, row_last - row_first, precompute(src.width, width, filter));
  return resample_vertical(tmp, height, row_first, cv);
}

}  // namespace smolvk
