#include "loader/resize.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <numbers>
#include <system_error>
#include <thread>
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

// Pillow accumulates in INT32 (kPrecisionBits leaves 2 bits of headroom: 255 · Σ|k| stays
// below 2^31 for every filter), so int32 gives its results exactly, and vectorizes.
uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;  // arithmetic shift: floor
  return uint8_t(std::clamp<int32_t>(v, 0, 255));
}

// fn(begin, end) over [0, n) in contiguous parts on up to hardware_concurrency threads (at
// most 8, each with at least `min_per_part` items; the caller's thread takes the first part).
// A request's resize is most of its host time before the GPU: one client should not wait on
// one core.
template <class Fn>
void parallel_parts(int n, int min_per_part, Fn fn) {
  const int hw = int(std::max(1u, std::thread::hardware_concurrency()));
  const int parts = std::clamp(n / std::max(min_per_part, 1), 1, std::min(hw, 8));
  if (parts == 1) return fn(0, n);
  std::vector<std::thread> threads;
  std::mutex failed_mutex;
  std::exception_ptr failed;  // the first exception of a part, rethrown here
  auto run = [&](int b, int e) {
    try {
      fn(b, e);
    } catch (...) {
      std::lock_guard lock(failed_mutex);
      if (!failed) failed = std::current_exception();
    }
  };
  auto part = [&](int i) { return int(int64_t(n) * i / parts); };
  try {
    for (int i = 1; i < parts; ++i) threads.emplace_back(run, part(i), part(i + 1));
  } catch (const std::system_error&) {  // no thread to be had: the rest on this one
    run(part(int(threads.size()) + 1), n);
  }
  run(0, part(1));
  for (auto& t : threads) t.join();
  if (failed) std::rethrow_exception(failed);
}

// Output samples per part worth a thread (~0.1 ms of work).
constexpr int kSamplesPerPart = 64 * 1024;

// Horizontal pass over input rows [row0, row0 + rows).
Image resample_horizontal(const Image& in, int out_w, int row0, int rows, const Coeffs& c) {
  Image out{out_w, rows, std::vector<uint8_t>(size_t(out_w) * rows * 3)};
  parallel_parts(rows, std::max(1, kSamplesPerPart / std::max(out_w, 1)), [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      const uint8_t* src = in.pixel(0, row0 + y);
      uint8_t* dst = out.rgb.data() + size_t(y) * out_w * 3;
      for (int xx = 0; xx < out_w; ++xx) {
        const int32_t* k = &c.k[size_t(xx) * c.ksize];
        const uint8_t* p = src + size_t(c.first[xx]) * 3;
        int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        for (int x = 0; x < c.count[xx]; ++x, p += 3) {
          s0 += int32_t(p[0]) * k[x];
          s1 += int32_t(p[1]) * k[x];
          s2 += int32_t(p[2]) * k[x];
        }
        dst[xx * 3 + 0] = clip8(s0);
        dst[xx * 3 + 1] = clip8(s1);
        dst[xx * 3 + 2] = clip8(s2);
      }
    }
  });
  return out;
}

// Vertical pass; `row_shift` maps the coefficients' input rows onto `in`'s rows.
Image resample_vertical(const Image& in, int out_h, int row_shift, const Coeffs& c) {
  const int w = in.width;
  Image out{w, out_h, std::vector<uint8_t>(size_t(w) * out_h * 3)};
  const size_t stride = size_t(w) * 3;
  parallel_parts(out_h, std::max(1, kSamplesPerPart / std::max(w, 1)), [&](int y0, int y1) {
    std::vector<int32_t> acc(stride);
    for (int yy = y0; yy < y1; ++yy) {
      const int32_t* k = &c.k[size_t(yy) * c.ksize];
      const uint8_t* src = in.rgb.data() + size_t(c.first[yy] - row_shift) * stride;
      uint8_t* dst = out.rgb.data() + size_t(yy) * stride;
      // Row by row of the filter, across the whole output row (contiguous, vectorizes); the
      // sums are the same integers in the same order as Pillow's per-sample loop.
      std::fill(acc.begin(), acc.end(), int32_t(1) << (kPrecisionBits - 1));
      int32_t* __restrict a = acc.data();  // (bytes may alias anything: say they do not)
      for (int y = 0; y < c.count[yy]; ++y) {
        const uint8_t* __restrict row = src + size_t(y) * stride;
        const int32_t ky = k[y];
        for (size_t i = 0; i < stride; ++i) a[i] += int32_t(row[i]) * ky;
      }
      uint8_t* __restrict d = dst;
      for (size_t i = 0; i < stride; ++i) d[i] = clip8(a[i]);
    }
  });
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
