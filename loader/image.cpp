#include "loader/image.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <webp/decode.h>

#include <fstream>
#include <memory>

#include "loader/error.h"

namespace smolvk {
namespace {

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

void check_limits(int w, int h, const std::string& source) {
  if (w <= 0 || h <= 0)
    throw LoadError(source + ": image has zero size (" + std::to_string(w) + "x" + std::to_string(h) +
                    "), expected at least 1x1");
  if (w > kMaxImageSide || h > kMaxImageSide || int64_t(w) * h > kMaxImagePixels)
    throw LoadError(source + ": image is " + std::to_string(w) + "x" + std::to_string(h) + ", over the limit of " +
                    std::to_string(kMaxImageSide) + " pixels a side and " + std::to_string(kMaxImagePixels) +
                    " pixels in all");
}

// stb_image (2.27) grows its IDAT buffer to each chunk's declared length before reading it,
// so a 100-byte PNG declaring a 1 GB chunk allocates 1 GB. Every chunk must fit in the file:
// then what stb allocates is bounded by the file size. (Fuzz finding, image target.)
void check_png_chunks(std::span<const uint8_t> b, const std::string& source) {
  static constexpr uint8_t kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() < 8 || std::memcmp(b.data(), kSig, 8) != 0) return;
  size_t at = 8;
  while (b.size() - at >= 8) {
    const uint64_t len = uint64_t(b[at]) << 24 | uint64_t(b[at + 1]) << 16 | uint64_t(b[at + 2]) << 8 | b[at + 3];
    const std::string type(reinterpret_cast<const char*>(b.data() + at + 4), 4);
    const uint64_t left = b.size() - at - 8;
    if (len > left)  // the CRC may be cut off at the very end; stb tolerates that
      throw LoadError(source + ": PNG chunk '" + type + "' at byte " + std::to_string(at) + " declares " +
                      std::to_string(len) + " bytes but only " + std::to_string(left) +
                      " remain in the file (truncated or corrupt PNG)");
    if (type == "IEND") return;
    at += 8 + size_t(len) + std::min<uint64_t>(4, left - len);
  }
}

// stb_image 2.27 reads the width, height and maximum of a binary PNM (P5/P6) header into an
// int without bounding the digits: ten or more overflow (UB; fuzz finding, image target, in
// the 5-minute run). Its header grammar is small: after "P5"/"P6", three integers, each after
// any run of whitespace and '#' comments. Walk it the same way and refuse a number of more than
// 9 digits, which no image within the size limits needs.
void check_pnm_header(std::span<const uint8_t> b, const std::string& source) {
  if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) return;
  auto space = [](uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  size_t i = 2;
  for (const char* what : {"width", "height", "maximum value"}) {
    while (i < b.size() && (space(b[i]) || b[i] == '#')) {
      while (i < b.size() && space(b[i])) ++i;
      if (i < b.size() && b[i] == '#')
        while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
    }
    size_t digits = 0;
    while (i < b.size() && b[i] >= '0' && b[i] <= '9') ++i, ++digits;
    if (digits > 9)
      throw LoadError(source + ": PNM header " + what + " has " + std::to_string(digits) +
                      " digits, more than the 9 an image within the limits needs (corrupt PNM)");
  }
}

// JPEG goes to libjpeg-turbo, as in PIL (so the pixels match transformers' preprocessing), and
// never to stb_image: 2.27 (Debian 12) writes past its Huffman size table on a DHT segment with
// more than 256 codes (two fuzz findings, tests/fuzz/regressions/image/jpeg_*). stb would take
// any input that starts with 0xFF fill bytes and then SOI as a JPEG: so does this test.
bool looks_like_jpeg(std::span<const uint8_t> b) {
  size_t i = 0;
  if (b.empty() || b[0] != 0xFF) return false;
  while (i < b.size() && b[i] == 0xFF) ++i;
  return i < b.size() && b[i] == 0xD8;
}

// libjpeg reports errors through error_exit, which must not return: it jumps back to the
// decode, whose frames hold only trivially destructible locals. Everything the decode changes
// after setjmp lives in the caller's JpegJob (reached through a pointer that does not change),
// so nothing is indeterminate after the jump.
struct JpegJob {
  jpeg_error_mgr mgr;  // first: libjpeg's err pointer is this struct's address
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  jpeg_decompress_struct cinfo;
  bool created = false;
  int w = 0, h = 0;
  uint8_t* out = nullptr;  // malloc'd RGB rows; the caller frees it
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* job = reinterpret_cast<JpegJob*>(cinfo->err);
  job->mgr.format_message(cinfo, job->message);
  std::longjmp(job->jump, 1);
}

void jpeg_silence(j_common_ptr, int) {}  // warnings (e.g. premature end of data) are not errors

enum class JpegStatus { Ok, Error, TooLarge };

// Decodes to RGB in job->out, checking the size against the limits before allocating. No C++
// objects with destructors live here (see JpegJob).
JpegStatus decode_jpeg_c(const uint8_t* data, size_t len, JpegJob* job) {
  job->cinfo.err = jpeg_std_error(&job->mgr);
  job->mgr.error_exit = jpeg_error_exit;
  job->mgr.emit_message = jpeg_silence;
  job->message[0] = 0;
  if (setjmp(job->jump)) return JpegStatus::Error;
  jpeg_create_decompress(&job->cinfo);
  job->created = true;
  jpeg_mem_src(&job->cinfo, data, static_cast<unsigned long>(len));
  jpeg_read_header(&job->cinfo, TRUE);
  job->w = int(job->cinfo.image_width);
  job->h = int(job->cinfo.image_height);
  if (job->w <= 0 || job->h <= 0 || job->w > kMaxImageSide || job->h > kMaxImageSide ||
      int64_t(job->w) * job->h > kMaxImagePixels)
    return JpegStatus::TooLarge;
  job->cinfo.out_color_space = JCS_RGB;  // grey and YCbCr convert; CMYK/YCCK report an error
  jpeg_start_decompress(&job->cinfo);
  const size_t stride = size_t(job->cinfo.output_width) * 3;
  job->out = static_cast<uint8_t*>(std::malloc(stride * job->cinfo.output_height));
  if (!job->out) {
    std::snprintf(job->message, sizeof job->message, "out of memory");
    return JpegStatus::Error;
  }
  while (job->cinfo.output_scanline < job->cinfo.output_height) {
    JSAMPROW row = job->out + stride * job->cinfo.output_scanline;
    jpeg_read_scanlines(&job->cinfo, &row, 1);
  }
  jpeg_finish_decompress(&job->cinfo);
  return JpegStatus::Ok;
}

Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& source) {
  auto job = std::make_unique<JpegJob>();
  const JpegStatus st = decode_jpeg_c(bytes.data(), bytes.size(), job.get());
  if (job->created) jpeg_destroy_decompress(&job->cinfo);
  std::unique_ptr<uint8_t, decltype(&std::free)> px(job->out, &std::free);
  if (st == JpegStatus::TooLarge) check_limits(job->w, job->h, source);  // throws, naming the limit
  if (st != JpegStatus::Ok) throw LoadError(source + ": cannot decode JPEG (" + std::string(job->message) + ")");
  const uint8_t* p = px.get();
  return Image{job->w, job->h, std::vector<uint8_t>(p, p + size_t(job->w) * job->h * 3)};
}

// WebP goes to libwebp, as in PIL: a RIFF container whose form type is WEBP.
bool looks_like_webp(std::span<const uint8_t> b) {
  return b.size() >= 12 && std::memcmp(b.data(), "RIFF", 4) == 0 && std::memcmp(b.data() + 8, "WEBP", 4) == 0;
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// 8-bit samples with `comp` channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) → RGB.
template <typename Sample, typename To8>
Image to_rgb(const Sample* in, int w, int h, int comp, AlphaPolicy alpha, To8 to8) {
  Image img{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  uint8_t* out = img.rgb.data();
  const size_t n = size_t(w) * h;
  for (size_t i = 0; i < n; ++i, in += comp, out += 3) {
    switch (comp) {
      case 1:
        out[0] = out[1] = out[2] = to8(in[0], true);
        break;
      case 2: {
        uint8_t v = to8(in[0], false), a = to8(in[1], false);
        out[0] = out[1] = out[2] = alpha == AlphaPolicy::Drop ? v : composite_over_white(v, a);
        break;
      }
      default: {
        uint8_t a = comp == 4 ? to8(in[3], false) : 255;
        for (int c = 0; c < 3; ++c) {
          uint8_t v = to8(in[c], false);
          out[c] = (comp == 3 || alpha == AlphaPolicy::Drop) ? v : composite_over_white(v, a);
        }
      }
    }
  }
  return img;
}

}  // namespace

uint8_t composite_over_white(uint8_t v, uint8_t a) {
  // PIL AlphaComposite.c (scalar path) with dst = (255, 255, 255, 255): blend and coefficients
  // in 7 extra bits, then a rounded division by 255 done with shifts.
  if (a == 0) return 255;
  constexpr uint32_t kBits = 7;
  const uint32_t blend = 255u * (255u - a);
  const uint32_t outa255 = a * 255u + blend;
  const uint32_t coef1 = a * 255u * 255u * (1u << kBits) / outa255;
  const uint32_t coef2 = 255u * (1u << kBits) - coef1;
  const uint32_t tmp = v * coef1 + 255u * coef2 + (0x80u << kBits);
  return uint8_t((((tmp >> 8) + tmp) >> 8) >> kBits);
}

void check_image_header(std::span<const uint8_t> bytes, const std::string& source) {
  check_png_chunks(bytes, source);
  check_pnm_header(bytes, source);
}

bool image_size(std::span<const uint8_t> bytes, const std::string& source, int& width, int& height) {
  if (looks_like_webp(bytes)) return WebPGetInfo(bytes.data(), bytes.size(), &width, &height) != 0;
  check_image_header(bytes, source);
  int comp = 0;
  return bytes.size() <= size_t(INT_MAX) && stbi_info_from_memory(bytes.data(), int(bytes.size()), &width, &height, &comp);
}

namespace {

// A still WebP as PIL decodes it (libwebp, RGBA when the file has alpha, then `alpha`).
Image decode_webp(std::span<const uint8_t> bytes, const std::string& source, AlphaPolicy alpha) {
  WebPBitstreamFeatures f;
  const VP8StatusCode st = WebPGetFeatures(bytes.data(), bytes.size(), &f);
  if (st != VP8_STATUS_OK)
    throw LoadError(source + ": cannot decode WebP (libwebp status " + std::to_string(int(st)) + " reading the header)");
  if (f.has_animation)
    throw LoadError(source + ": animated WebP is not supported; give a still image (e.g. one frame of it)");
  check_limits(f.width, f.height, source);
  int w = 0, h = 0;
  struct WebPFreeer {
    void operator()(uint8_t* p) const { WebPFree(p); }
  };
  std::unique_ptr<uint8_t, WebPFreeer> px(f.has_alpha ? WebPDecodeRGBA(bytes.data(), bytes.size(), &w, &h)
                                                      : WebPDecodeRGB(bytes.data(), bytes.size(), &w, &h));
  if (!px || w != f.width || h != f.height) throw LoadError(source + ": cannot decode WebP (corrupt image data)");
  if (!f.has_alpha) return Image{w, h, std::vector<uint8_t>(px.get(), px.get() + size_t(w) * h * 3)};
  return to_rgb(px.get(), w, h, 4, alpha, [](uint8_t v, bool) { return v; });
}

}  // namespace

Image decode_image(std::span<const uint8_t> bytes, const std::string& source, AlphaPolicy alpha) {
  static constexpr const char* kFormats = "expected PNG, JPEG, WebP, BMP, GIF, TGA or PNM";
  if (bytes.empty()) throw LoadError(source + ": file is empty, " + kFormats);
  if (bytes.size() > size_t(INT_MAX) || bytes.size() > kMaxImageFileBytes)
    throw LoadError(source + ": file of " + std::to_string(bytes.size()) + " bytes is over the " +
                    std::to_string(kMaxImageFileBytes) + "-byte limit for images");
  if (looks_like_jpeg(bytes)) return decode_jpeg(bytes, source);
  if (looks_like_webp(bytes)) return decode_webp(bytes, source, alpha);
  check_image_header(bytes, source);
  const int len = int(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &comp)) {
    // stbi_info tries every format and keeps the last one's complaint; a decode attempt
    // stops at the format whose signature matched and says what is wrong with it.
    std::unique_ptr<uint8_t, StbFree> probe(stbi_load_from_memory(bytes.data(), len, &w, &h, &comp, 0));
    const std::string reason = probe ? "header not readable" : stb_reason();
    if (reason.find("0-pixel") != std::string::npos)
      throw LoadError(source + ": image has zero size (" + reason + "), expected at least 1x1");
    throw LoadError(source + ": not a decodable image (" + reason + "), " + kFormats);
  }
  check_limits(w, h, source);

  if (stbi_is_16_bit_from_memory(bytes.data(), len)) {
    std::unique_ptr<uint16_t, StbFree> px(stbi_load_16_from_memory(bytes.data(), len, &w, &h, &comp, 0));
    if (!px) throw LoadError(source + ": cannot decode image (" + stb_reason() + ")");
    check_limits(w, h, source);
    // PIL: 16-bit grey is mode I and clips; every other 16-bit PNG mode keeps the high byte.
    auto to8 = [](uint16_t v, bool grey_only) { return uint8_t(grey_only ? (v > 255 ? 255 : v) : v >> 8); };
    return to_rgb(px.get(), w, h, comp, alpha, to8);
  }
  std::unique_ptr<uint8_t, StbFree> px(stbi_load_from_memory(bytes.data(), len, &w, &h, &comp, 0));
  if (!px) throw LoadError(source + ": cannot decode image (" + stb_reason() + ")");
  check_limits(w, h, source);
  if (comp < 1 || comp > 4)
    throw LoadError(source + ": image has " + std::to_string(comp) + " channels, expected 1 to 4");
  return to_rgb(px.get(), w, h, comp, alpha, [](uint8_t v, bool) { return v; });
}

Image load_image(const std::filesystem::path& path, AlphaPolicy alpha) {
  const std::string source = path.string();
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw LoadError(source + ": cannot read image file (" + ec.message() + ")");
  if (size > kMaxImageFileBytes)
    throw LoadError(source + ": file of " + std::to_string(size) + " bytes is over the " +
                    std::to_string(kMaxImageFileBytes) + "-byte limit for images");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw LoadError(source + ": cannot open image file (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes(size);
  if (size && !f.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
    throw LoadError(source + ": cannot read image file (short read)");
  return decode_image(bytes, source, alpha);
}

}  // namespace smolvk
