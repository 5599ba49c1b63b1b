#include "loader/video.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include "loader/error.h"

namespace smolvk {
namespace {

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

// FFmpeg logs to stderr at level INFO unless the host program says otherwise: its warnings
// (a deprecated yuvj format, a damaged macroblock) would land in smolvk's output. Quiet it once,
// unless the program already chose a level; the errors reach the user as LoadError messages.
void quiet_ffmpeg_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_QUIET);
  });
}

struct FormatCloser {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct IoFree {
  void operator()(AVIOContext* p) const {
    av_freep(&p->buffer);
    avio_context_free(&p);
  }
};
struct CodecFree {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFree {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
struct DictFree {
  void operator()(AVDictionary* p) const { av_dict_free(&p); }
};

// Bytes in memory as an AVIOContext (read and seek).
struct MemoryReader {
  std::span<const uint8_t> bytes;
  int64_t pos = 0;

  static int read(void* opaque, uint8_t* buf, int size) {
    auto* r = static_cast<MemoryReader*>(opaque);
    const int64_t left = int64_t(r->bytes.size()) - r->pos;
    if (left <= 0) return AVERROR_EOF;
    const int n = int(std::min<int64_t>(left, size));
    std::memcpy(buf, r->bytes.data() + r->pos, size_t(n));
    r->pos += n;
    return n;
  }
  static int64_t seek(void* opaque, int64_t offset, int whence) {
    auto* r = static_cast<MemoryReader*>(opaque);
    const int64_t size = int64_t(r->bytes.size());
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return size;
    int64_t to = offset;
    if (whence == SEEK_CUR) to = r->pos + offset;
    else if (whence == SEEK_END) to = size + offset;
    else if (whence != SEEK_SET) return AVERROR(EINVAL);
    if (to < 0 || to > size) return AVERROR(EINVAL);
    r->pos = to;
    return to;
  }
};

// The opened input: a file, or memory through `io`. Members are destroyed in reverse order:
// the format context before the I/O context it reads from.
struct Input {
  std::string name;  // for messages
  std::optional<std::filesystem::path> path;  // a file, or `bytes` in memory
  std::span<const uint8_t> bytes;
  MemoryReader reader;
  std::unique_ptr<AVIOContext, IoFree> io;
  std::unique_ptr<AVFormatContext, FormatCloser> fmt;
};

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw LoadError("video " + name + ": " + what);
}

void open_input(Input& in) {
  quiet_ffmpeg_log();
  in.fmt.reset();  // (re)opening: the format context goes before its I/O context
  in.io.reset();
  const std::filesystem::path* path = in.path ? &*in.path : nullptr;
  const std::span<const uint8_t> bytes = in.bytes;
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) fail(in.name, "out of memory");
  AVDictionary* opts_raw = nullptr;
  std::string url;
  if (path) {
    // file: only, so that a name like "http://..." is not fetched and a playlist-like
    // container cannot make FFmpeg open anything but local files.
    url = "file:" + path->string();
    av_dict_set(&opts_raw, "protocol_whitelist", "file", 0);
  } else {
    constexpr int kBuffer = 64 * 1024;
    in.reader = {bytes, 0};
    auto* buffer = static_cast<uint8_t*>(av_malloc(kBuffer));
    if (!buffer) {
      avformat_free_context(raw);
      fail(in.name, "out of memory");
    }
    AVIOContext* io = avio_alloc_context(buffer, kBuffer, 0, &in.reader, &MemoryReader::read, nullptr,
                                         &MemoryReader::seek);
    if (!io) {
      av_free(buffer);
      avformat_free_context(raw);
      fail(in.name, "out of memory");
    }
    in.io.reset(io);
    raw->pb = io;
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    // Nothing but these bytes: no protocol for nested opens (playlists, segment lists).
    av_dict_set(&opts_raw, "protocol_whitelist", "none", 0);
  }
  std::unique_ptr<AVDictionary, DictFree> opts(opts_raw);
  AVDictionary* o = opts.release();
  const int ret = avformat_open_input(&raw, path ? url.c_str() : nullptr, nullptr, &o);  // frees raw on failure
  opts.reset(o);
  if (ret < 0)
    fail(in.name, "cannot be opened as a video (" + av_error(ret) +
                      "); expected a video file FFmpeg can read (MP4, WebM, MKV, AVI, MOV, ...)");
  in.fmt.reset(raw);
  const int info = avformat_find_stream_info(raw, nullptr);
  if (info < 0) fail(in.name, "no stream information (" + av_error(info) + "); expected a video file");
}

// The scan (torchcodec's exact mode): frame count and pts range of the stream's packets.
struct Scan {
  int64_t packets = 0;
  std::optional<int64_t> begin, end;
};

Scan scan_packets(Input& in, int stream) {
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  if (!pkt) fail(in.name, "out of memory");
  Scan s;
  for (;;) {
    const int ret = av_read_frame(in.fmt.get(), pkt.get());
    if (ret == AVERROR_EOF) break;
    if (ret < 0) fail(in.name, "cannot read its packets (" + av_error(ret) + "); the file is damaged or truncated");
    if (pkt->stream_index == stream && !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
      ++s.packets;
      const int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (t != AV_NOPTS_VALUE) {
        s.begin = std::min(s.begin.value_or(INT64_MAX), t);
        s.end = std::max(s.end.value_or(INT64_MIN), t + pkt->duration);
      }
    }
    av_packet_unref(pkt.get());
  }
  return s;
}

double pts_to_seconds(int64_t pts, AVRational tb) { return double(pts) * tb.num / tb.den; }

void check_size(const std::string& name, int w, int h, const VideoLimits& limits, const std::string& where) {
  if (w <= 0 || h <= 0) fail(name, where + " " + std::to_string(w) + "x" + std::to_string(h));
  if (w > limits.max_side || h > limits.max_side || int64_t(w) * h > limits.max_frame_pixels)
    fail(name, where + " " + std::to_string(w) + "x" + std::to_string(h) + " is over the limit of " +
                   std::to_string(limits.max_side) + " pixels a side and " + std::to_string(limits.max_frame_pixels) +
                   " pixels a frame");
}

// One decoded frame as RGB24, converted as torchcodec's swscale path converts it.
class RgbConverter {
 public:
  Image convert(const std::string& name, const AVFrame* f) {
    const auto fmt = AVPixelFormat(f->format);
    if (!ctx_ || f->width != w_ || f->height != h_ || fmt != fmt_ || f->colorspace != cs_) {
      if (fmt == AV_PIX_FMT_NONE || !sws_isSupportedInput(fmt))
        fail(name, std::string("frames in pixel format ") + (av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "?") +
                       " cannot be converted to RGB");
      ctx_.reset(sws_getContext(f->width, f->height, fmt, f->width, f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr,
                                nullptr, nullptr));
      if (!ctx_) fail(name, "cannot set up the conversion of its frames to RGB");
      int *inv = nullptr, *table = nullptr;
      int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
      if (sws_getColorspaceDetails(ctx_.get(), &inv, &src_range, &table, &dst_range, &brightness, &contrast,
                                   &saturation) < 0)
        fail(name, "cannot read the RGB conversion's colorspace details");
      const int* coefficients = sws_getCoefficients(f->colorspace);
      if (sws_setColorspaceDetails(ctx_.get(), coefficients, src_range, coefficients, dst_range, brightness, contrast,
                                   saturation) < 0)
        fail(name, "cannot set the RGB conversion's colorspace");
      w_ = f->width, h_ = f->height, fmt_ = fmt, cs_ = f->colorspace;
    }
    Image out{f->width, f->height, std::vector<uint8_t>(size_t(f->width) * f->height * 3)};
    uint8_t* dst[4] = {out.rgb.data(), nullptr, nullptr, nullptr};
    const int dst_stride[4] = {f->width * 3, 0, 0, 0};
    const int rows = sws_scale(ctx_.get(), f->data, f->linesize, 0, f->height, dst, dst_stride);
    if (rows != f->height)
      fail(name, "the RGB conversion gave " + std::to_string(rows) + " rows of " + std::to_string(f->height));
    return out;
  }

 private:
  std::unique_ptr<SwsContext, SwsFree> ctx_;
  int w_ = 0, h_ = 0;
  AVPixelFormat fmt_ = AV_PIX_FMT_NONE;
  AVColorSpace cs_ = AVCOL_SPC_UNSPECIFIED;
};

Video decode(Input& in, const FrameSampler& sample, const VideoLimits& limits) {
  AVFormatContext* fmt = in.fmt.get();
  const AVCodec* codec = nullptr;
  const int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (si == AVERROR_STREAM_NOT_FOUND) fail(in.name, "has no video stream; expected a video");
  if (si < 0 || !codec)
    fail(in.name, "no decoder for its video stream (" + av_error(si < 0 ? si : AVERROR_DECODER_NOT_FOUND) + ")");
  AVStream* st = fmt->streams[si];
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (int(i) != si) fmt->streams[i]->discard = AVDISCARD_ALL;
  if (st->codecpar->width > 0 && st->codecpar->height > 0)
    check_size(in.name, st->codecpar->width, st->codecpar->height, limits, "its frames are");

  const Scan scan = scan_packets(in, si);
  if (scan.packets == 0) fail(in.name, "its video stream has no frames");
  Video v;
  v.source = in.name;
  VideoMetadata& m = v.metadata;
  m.total_frames = scan.packets;
  if (scan.begin && scan.end) m.duration = pts_to_seconds(*scan.end, st->time_base) - pts_to_seconds(*scan.begin, st->time_base);
  if (m.duration != 0.0)
    m.fps = double(m.total_frames) / m.duration;
  else if (st->r_frame_rate.num > 0 && st->r_frame_rate.den > 0)
    m.fps = av_q2d(st->r_frame_rate);
  m.width = st->codecpar->width;
  m.height = st->codecpar->height;

  std::vector<int64_t> keep;
  if (sample) {
    keep = sample(m);
  } else {
    keep.resize(size_t(m.total_frames));
    for (int64_t i = 0; i < m.total_frames; ++i) keep[size_t(i)] = i;
  }
  if (keep.empty()) fail(in.name, "no frames were sampled");
  for (size_t i = 0; i < keep.size(); ++i)
    if (keep[i] < 0 || keep[i] >= m.total_frames || (i > 0 && keep[i] <= keep[i - 1]))
      fail(in.name, "sampled frame index " + std::to_string(keep[i]) + " is not ascending within the " +
                        std::to_string(m.total_frames) + " frames");
  if (int64_t(keep.size()) > limits.max_frames)
    fail(in.name, std::to_string(keep.size()) + " frames sampled, over the limit of " +
                      std::to_string(limits.max_frames));
  if (m.width > 0 && m.height > 0 &&
      uint64_t(keep.size()) * uint64_t(m.width) * uint64_t(m.height) * 3 > limits.max_frame_bytes)
    fail(in.name, std::to_string(keep.size()) + " frames of " + std::to_string(m.width) + "x" +
                      std::to_string(m.height) + " take more than " + std::to_string(limits.max_frame_bytes) +
                      " bytes of RGB");
  m.frame_indices = keep;

  // Back to the start (torchcodec: avformat_seek_file to 0 after its scan); a container that
  // cannot seek there is opened again.
  if (avformat_seek_file(fmt, -1, INT64_MIN, 0, 0, 0) < 0) {
    open_input(in);
    fmt = in.fmt.get();
    if (unsigned(si) >= fmt->nb_streams || fmt->streams[si]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
      fail(in.name, "its streams changed when it was opened again");
    st = fmt->streams[si];
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (int(i) != si) fmt->streams[i]->discard = AVDISCARD_ALL;
  }
  std::unique_ptr<AVCodecContext, CodecFree> dec(avcodec_alloc_context3(codec));
  if (!dec) fail(in.name, "out of memory");
  if (const int r = avcodec_parameters_to_context(dec.get(), st->codecpar); r < 0)
    fail(in.name, "bad video stream parameters (" + av_error(r) + ")");
  dec->pkt_timebase = st->time_base;
  dec->thread_count = 0;  // FFmpeg picks (torchcodec: num_ffmpeg_threads=0)
  if (const int r = avcodec_open2(dec.get(), codec, nullptr); r < 0)
    fail(in.name, std::string("cannot open the ") + codec->name + " decoder (" + av_error(r) + ")");

  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
  if (!pkt || !frame) fail(in.name, "out of memory");
  RgbConverter rgb;
  int64_t decoded = 0;  // frames given by the decoder so far
  size_t next = 0;      // the next kept index
  uint64_t bytes = 0;
  auto drain = [&]() {
    for (;;) {
      const int r = avcodec_receive_frame(dec.get(), frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail(in.name, "cannot decode frame " + std::to_string(decoded) + " (" + av_error(r) + ")");
      if (next < keep.size() && decoded == keep[next]) {
        check_size(in.name, frame->width, frame->height, limits, "frame " + std::to_string(decoded) + " is");
        if (!v.frames.empty() && (frame->width != v.frames[0].width || frame->height != v.frames[0].height))
          fail(in.name, "frame " + std::to_string(decoded) + " is " + std::to_string(frame->width) + "x" +
                            std::to_string(frame->height) + " but frame " + std::to_string(keep[0]) + " is " +
                            std::to_string(v.frames[0].width) + "x" + std::to_string(v.frames[0].height) +
                            "; expected frames of one size");
        bytes += uint64_t(frame->width) * uint64_t(frame->height) * 3;
        if (bytes > limits.max_frame_bytes)
          fail(in.name, "the sampled frames take more than " + std::to_string(limits.max_frame_bytes) +
                            " bytes of RGB");
        v.frames.push_back(rgb.convert(in.name, frame.get()));
        ++next;
      }
      ++decoded;
      av_frame_unref(frame.get());
    }
  };
  auto send = [&](const AVPacket* p) {
    int r = avcodec_send_packet(dec.get(), p);
    while (r == AVERROR(EAGAIN)) {
      drain();
      r = avcodec_send_packet(dec.get(), p);
    }
    if (r < 0 && r != AVERROR_EOF)
      fail(in.name, "cannot decode its video stream near frame " + std::to_string(decoded) + " (" + av_error(r) +
                        "); the stream is damaged");
    drain();
  };
  while (next < keep.size()) {
    const int r = av_read_frame(fmt, pkt.get());
    if (r == AVERROR_EOF) {
      send(nullptr);  // flush the frames the decoder holds back
      break;
    }
    if (r < 0) fail(in.name, "cannot read its packets (" + av_error(r) + "); the file is damaged or truncated");
    if (pkt->stream_index == si) send(pkt.get());
    av_packet_unref(pkt.get());
  }
  if (next < keep.size())
    fail(in.name, "the decoder gave " + std::to_string(decoded) + " frames but frame " + std::to_string(keep[next]) +
                      " of " + std::to_string(m.total_frames) + " was sampled; the stream is damaged or truncated");
  m.width = v.frames[0].width;
  m.height = v.frames[0].height;
  return v;
}

}  // namespace

Video load_video(const std::filesystem::path& path, const FrameSampler& sample, const VideoLimits& limits) {
  Input in;
  in.name = path.string();
  in.path = path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(in.name, "no such file");
  open_input(in);
  return decode(in, sample, limits);
}

Video decode_video(std::span<const uint8_t> bytes, const std::string& source_name, const FrameSampler& sample,
                   const VideoLimits& limits) {
  Input in;
  in.name = source_name;
  in.bytes = bytes;
  if (bytes.empty()) fail(in.name, "is empty; expected a video file");
  open_input(in);
  return decode(in, sample, limits);
}

std::string ffmpeg_versions() {
  auto v = [](unsigned x) {
    return std::to_string(AV_VERSION_MAJOR(x)) + "." + std::to_string(AV_VERSION_MINOR(x)) + "." +
           std::to_string(AV_VERSION_MICRO(x));
  };
  return "libavformat " + v(avformat_version()) + ", libavcodec " + v(avcodec_version()) + ", libswscale " +
         v(swscale_version());
}

}  // namespace smolvk
