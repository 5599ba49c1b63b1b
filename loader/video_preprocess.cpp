#include "loader/video_preprocess.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#include "loader/error.h"

namespace smolvk {

std::vector<double> VideoMetadata::timestamps() const {
  std::vector<double> t;
  t.reserve(frame_indices.size());
  for (int64_t i : frame_indices) t.push_back(double(i) / fps);
  return t;
}

std::vector<int64_t> sample_video_frames(const VideoMetadata& m, int64_t max_frames, double fps, double skip_secs) {
  if (m.total_frames <= 0)
    throw LoadError("video frame sampling: the video has " + std::to_string(m.total_frames) + " frames");
  if (!(m.fps > 0) || !std::isfinite(m.fps))
    throw LoadError("video frame sampling: the video's frame rate is unknown (" + std::to_string(m.fps) +
                    "); SmolVLM samples frames per second of the video");
  if (max_frames < 1 || !(fps > 0) || !std::isfinite(fps) || !std::isfinite(m.duration))
    throw LoadError("video frame sampling: max_frames " + std::to_string(max_frames) + " and fps " +
                    std::to_string(fps) + " must be positive, duration " + std::to_string(m.duration) + " finite");
  const int64_t total = m.total_frames;
  // Step 1-2: int(round(fps * duration)) (Python rounds halves to even, as nearbyint does in
  // the default rounding mode), at most max_frames, at least 1.
  const double estimated = std::nearbyint(fps * m.duration);
  int64_t desired = estimated >= double(max_frames) ? max_frames : int64_t(estimated);
  if (desired < 1) desired = 1;
  // Step 3: skip skip_secs at both ends of a long video (Python's int() truncates).
  int64_t start = 0, end = total - 1;
  if (skip_secs > 0 && (m.duration - 2 * skip_secs) > double(max_frames) * fps) {
    start = int64_t(skip_secs * m.fps);
    end = int64_t(double(total) - skip_secs * m.fps);
  }
  start = std::max<int64_t>(0, start);
  end = std::min(end, total - 1);
  if (start >= end) start = 0, end = total - 1;
  // np.linspace(start, end, desired, dtype=int): y = arange(n) * step + start in float64, the
  // last set to end, floored; then np.unique (sorted, no repeats).
  std::vector<int64_t> idx(static_cast<size_t>(desired));
  const double delta = double(end) - double(start);
  if (desired == 1) {
    idx[0] = int64_t(std::floor(0.0 * delta + double(start)));
  } else {
    const double div = double(desired - 1);
    const double step = delta / div;
    for (int64_t i = 0; i < desired; ++i) {
      const double y = step == 0 ? double(i) / div * delta + double(start) : double(i) * step + double(start);
      idx[size_t(i)] = int64_t(std::floor(y));
    }
    idx.back() = end;
  }
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  return idx;
}

std::vector<int64_t> video_frame_indices(const VideoMetadata& m, const VideoProcessorConfig& c) {
  std::vector<int64_t> idx;
  if (c.samples()) {
    if (!c.fps || !c.max_frames)
      throw LoadError(c.source + ": the video processor sets " + (c.fps ? "fps" : "max_frames / num_frames") +
                      " but not " + (c.fps ? "max_frames / num_frames" : "fps") +
                      "; SmolVLMVideoProcessor.sample_frames needs both");
    idx = sample_video_frames(m, *c.max_frames, *c.fps);
  } else {
    if (m.total_frames <= 0) throw LoadError("the video has no frames");
    if (m.total_frames > kMaxVideoFrames)
      throw LoadError(c.source +
                      " has no frame sampling settings (video_sampling, or fps / num_frames), so every frame is "
                      "used, as transformers does: the video has " +
                      std::to_string(m.total_frames) + " frames, over the limit of " + std::to_string(kMaxVideoFrames));
    idx.resize(size_t(m.total_frames));
    for (int64_t i = 0; i < m.total_frames; ++i) idx[size_t(i)] = i;
  }
  if (int64_t(idx.size()) > kMaxVideoFrames)
    throw LoadError(c.source + ": sampling keeps " + std::to_string(idx.size()) + " frames, over the limit of " +
                    std::to_string(kMaxVideoFrames) + " per video");
  return idx;
}

FrameSampler frame_sampler(const VideoProcessorConfig& config) {
  return [config](const VideoMetadata& m) { return video_frame_indices(m, config); };
}

std::pair<int, int> video_resize_size(int height, int width, int longest_edge) {
  constexpr int kMaxImageSize = 4096;  // MAX_IMAGE_SIZE of video_processing_smolvlm.py
  const int L = std::min(kMaxImageSize, longest_edge);
  const double aspect = double(width) / height;
  if (width >= height) {
    width = L;
    height = int(width / aspect);
    if (height % 2 != 0) ++height;
  } else {
    height = L;
    width = int(height * aspect);
    if (width % 2 != 0) ++width;
  }
  return {std::max(height, 1), std::max(width, 1)};
}

namespace {

// HelperInterpCubic::aa_filter<double, true> (a = -0.5, PIL's) with UpSample.h's
// cubic_convolution1/2, and HelperInterpLinear::aa_filter, in their arithmetic order.
double cubic_aa(double x) {
  constexpr double A = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2.0) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0.0;
}
double linear_aa(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// One pass's weights: _compute_index_ranges_weights (antialias) then
// _compute_index_ranges_int16_weights.
struct PassWeights {
  int ksize = 0;  // max_interp_size
  std::vector<int64_t> xmin, xsize;
  std::vector<int16_t> w;  // out × ksize
  unsigned precision = 0;
};

PassWeights pass_weights(int64_t in, int64_t out, Resample filter) {
  const bool cubic = filter == Resample::Bicubic;
  const int interp_size = cubic ? 4 : 2;
  const double scale = double(in) / double(out);  // area_pixel_compute_scale, no scale given
  const double support = scale >= 1.0 ? (interp_size * 0.5) * scale : interp_size * 0.5;
  PassWeights p;
  p.ksize = int(std::ceil(support)) * 2 + 1;
  p.xmin.resize(size_t(out));
  p.xsize.resize(size_t(out));
  std::vector<double> w(size_t(out) * p.ksize, 0.0);
  double wt_max = 0.0;
  for (int64_t i = 0; i < out; ++i) {
    double* wt = &w[size_t(i) * p.ksize];
    const double center = scale * (double(i) + 0.5);
    const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
    const int64_t xmin = std::max(int64_t(center - support + 0.5), int64_t(0));
    const int64_t xsize = std::clamp(std::min(int64_t(center + support + 0.5), in) - xmin, int64_t(0), int64_t(p.ksize));
    double total = 0.0;
    for (int64_t j = 0; j < xsize; ++j) {
      const double x = (double(j + xmin) - center + 0.5) * invscale;
      wt[j] = cubic ? cubic_aa(x) : linear_aa(x);
      total += wt[j];
    }
    double wt_max_i = 0.0;
    if (total != 0.0)
      for (int64_t j = 0; j < xsize; ++j) {
        wt[j] /= total;
        wt_max_i = std::max(wt_max_i, wt[j]);
      }
    wt_max = std::max(wt_max, wt_max_i);
    p.xmin[size_t(i)] = xmin;
    p.xsize[size_t(i)] = xsize;
  }
  for (p.precision = 0; p.precision < 22; ++p.precision) {
    const int next_value = int(0.5 + wt_max * double(1 << (p.precision + 1)));
    if (next_value >= (1 << 15)) break;
  }
  p.w.resize(w.size());
  for (size_t k = 0; k < w.size(); ++k) {
    const double v = w[k] * double(1 << p.precision);
    p.w[k] = int16_t(v < 0 ? int(-0.5 + v) : int(0.5 + v));
  }
  return p;
}

uint8_t clamp_shift(int acc, unsigned precision) { return uint8_t(std::clamp(acc >> precision, 0, 255)); }

// basic_loop_aa_horizontal<uint8_t>: along each row.
Image pass_horizontal(const Image& in, int out_w, const PassWeights& p) {
  Image out{out_w, in.height, std::vector<uint8_t>(size_t(out_w) * in.height * 3)};
  const int bias = 1 << (p.precision - 1);
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* src = in.pixel(0, y);
    uint8_t* dst = out.rgb.data() + size_t(y) * out_w * 3;
    for (int x = 0; x < out_w; ++x) {
      const int16_t* k = &p.w[size_t(x) * p.ksize];
      const uint8_t* s = src + size_t(p.xmin[size_t(x)]) * 3;
      for (int c = 0; c < 3; ++c) {
        int acc = bias;
        for (int64_t j = 0; j < p.xsize[size_t(x)]; ++j) acc += int(s[size_t(j) * 3 + c]) * int(k[j]);
        dst[size_t(x) * 3 + c] = clamp_shift(acc, p.precision);
      }
    }
  }
  return out;
}

// basic_loop_aa_vertical<uint8_t>: down each column.
Image pass_vertical(const Image& in, int out_h, const PassWeights& p) {
  const size_t stride = size_t(in.width) * 3;
  Image out{in.width, out_h, std::vector<uint8_t>(stride * out_h)};
  const int bias = 1 << (p.precision - 1);
  std::vector<int> acc(stride);
  for (int y = 0; y < out_h; ++y) {
    const int16_t* k = &p.w[size_t(y) * p.ksize];
    const uint8_t* src = in.rgb.data() + size_t(p.xmin[size_t(y)]) * stride;
    std::fill(acc.begin(), acc.end(), bias);
    for (int64_t j = 0; j < p.xsize[size_t(y)]; ++j) {
      const uint8_t* row = src + size_t(j) * stride;
      const int kj = k[j];
      for (size_t i = 0; i < stride; ++i) acc[i] += int(row[i]) * kj;
    }
    uint8_t* dst = out.rgb.data() + size_t(y) * stride;
    for (size_t i = 0; i < stride; ++i) dst[i] = clamp_shift(acc[i], p.precision);
  }
  return out;
}

void check_rgb(const Image& im, const char* what) {
  if (im.width <= 0 || im.height <= 0 || im.rgb.size() != size_t(im.width) * im.height * 3)
    throw LoadError(std::string(what) + ": image " + std::to_string(im.width) + "x" + std::to_string(im.height) +
                    " with " + std::to_string(im.rgb.size()) + " bytes, expected width*height*3 RGB bytes");
}

// What torchvision 0.26 runs for a PIL resample id: LANCZOS falls back to BICUBIC
// (TorchvisionBackend.resize below torchvision 0.27), BICUBIC and BILINEAR take the native
// uint8 kernel on the CPU (_do_native_uint8_resize_on_cpu; BILINEAR on AVX2 / AVX512).
Resample torch_filter(Resample r, const std::string& source) {
  if (r == Resample::Lanczos || r == Resample::Bicubic) return Resample::Bicubic;
  if (r == Resample::Bilinear) return Resample::Bilinear;
  throw LoadError(source + ": video resample " + resample_name(r) +
                  " is not supported (smolvk resizes video frames as torchvision does for LANCZOS, BICUBIC and "
                  "BILINEAR)");
}

}  // namespace

Image resize_torch_aa(const Image& src, int width, int height, Resample filter) {
  check_rgb(src, "resize_torch_aa");
  if (width <= 0 || height <= 0)
    throw LoadError("resize_torch_aa: output size " + std::to_string(width) + "x" + std::to_string(height) +
                    " must be positive");
  if (filter != Resample::Bicubic && filter != Resample::Bilinear)
    throw LoadError(std::string("resize_torch_aa: filter ") + resample_name(filter) + ", expected BICUBIC or BILINEAR");
  if (width == src.width && height == src.height) return src;
  Image cur;
  const Image* in = &src;
  if (width != src.width) {
    cur = pass_horizontal(*in, width, pass_weights(src.width, width, filter));
    in = &cur;
  }
  if (height != src.height) return pass_vertical(*in, height, pass_weights(src.height, height, filter));
  return cur;
}

std::vector<float> video_pixel_lut(const VideoProcessorConfig& c) {
  std::vector<float> lut(3 * 256);
  for (int ch = 0; ch < 3; ++ch) {
    float mean = float(c.image_mean[ch]), std = float(c.image_std[ch]);
    if (c.do_rescale && c.do_normalize) {
      // _fuse_mean_std_and_rescale_factor: float32 tensor × Python float (cast to float32).
      const float inv = float(1.0 / c.rescale_factor);
      mean = mean * inv;
      std = std * inv;
    }
    for (int v = 0; v < 256; ++v) {
      float x = float(v);
      if (c.do_normalize)
        x = (x - mean) / std;
      else if (c.do_rescale)
        x = x * float(c.rescale_factor);
      lut[size_t(ch * 256 + v)] = x;
    }
  }
  return lut;
}

ProcessedVideo preprocess_video(const Video& video, const VideoProcessorConfig& c) {
  const std::string what = "video " + (video.source.empty() ? std::string("(in memory)") : video.source);
  if (video.frames.empty()) throw LoadError(what + ": no frames to process");
  const int in_w = video.frames[0].width, in_h = video.frames[0].height;
  for (size_t i = 0; i < video.frames.size(); ++i) {
    check_rgb(video.frames[i], what.c_str());
    if (video.frames[i].width != in_w || video.frames[i].height != in_h)
      throw LoadError(what + ": frame " + std::to_string(i) + " is " + std::to_string(video.frames[i].width) + "x" +
                      std::to_string(video.frames[i].height) + " but frame 0 is " + std::to_string(in_w) + "x" +
                      std::to_string(in_h) + "; the processor stacks frames of one size");
  }
  const Resample filter = c.do_resize ? torch_filter(c.resample, c.source) : Resample::Bicubic;
  int h1 = in_h, w1 = in_w, side_h = in_h, side_w = in_w;
  if (c.do_resize) {
    if (c.size_height > 0)
      h1 = c.size_height, w1 = c.size_width;
    else
      std::tie(h1, w1) = video_resize_size(in_h, in_w, c.longest_edge);
    side_h = side_w = c.max_image_longest_edge;
  }
  ProcessedVideo out;
  out.frames = int(video.frames.size());
  out.height = side_h;
  out.width = side_w;
  const size_t plane = size_t(side_h) * side_w;
  out.pixel_values.resize(size_t(out.frames) * 3 * plane);
  out.pixel_mask.assign(size_t(out.frames) * plane, 1);
  const std::vector<float> lut = video_pixel_lut(c);

  auto one = [&](size_t f) {
    Image cur = video.frames[f];
    if (c.do_resize) {
      cur = resize_torch_aa(cur, w1, h1, filter);
      cur = resize_torch_aa(cur, side_w, side_h, filter);
    }
    float* dst = out.pixel_values.data() + f * 3 * plane;
    for (int ch = 0; ch < 3; ++ch) {
      const float* table = &lut[size_t(ch) * 256];
      for (size_t i = 0; i < plane; ++i) dst[size_t(ch) * plane + i] = table[cur.rgb[i * 3 + size_t(ch)]];
    }
  };
  // Frames are independent: a few threads (the same integers whichever thread runs a frame).
  const size_t n = video.frames.size();
  const size_t parts = std::min<size_t>({n, size_t(std::max(1u, std::thread::hardware_concurrency())), 8});
  std::vector<std::thread> threads;
  std::mutex failed_mutex;
  std::exception_ptr failed;
  auto run = [&](size_t part) {
    try {
      for (size_t f = part; f < n; f += parts) one(f);
    } catch (...) {
      std::lock_guard lock(failed_mutex);
      if (!failed) failed = std::current_exception();
    }
  };
  size_t started = 1;
  try {
    for (; started < parts; ++started) threads.emplace_back(run, started);
  } catch (const std::system_error&) {  // no thread to be had: this one takes the rest
    for (size_t part = started; part < parts; ++part) run(part);
  }
  run(0);
  for (auto& t : threads) t.join();
  if (failed) std::rethrow_exception(failed);
  return out;
}

}  // namespace smolvk
