#pragma once
// Hand-made PNG files for image tests: any size, bit depth 8 or 16, colour types 0/2/4/6,
// stored (uncompressed) deflate blocks, so that tests can make headers stb must refuse.
#include <cstdint>
#include <string>
#include <vector>

namespace smolvk::test {

inline uint32_t png_crc(const uint8_t* p, size_t n, uint32_t crc = 0xffffffffu) {
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc;
}

inline void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}

inline void png_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put32(out, uint32_t(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put32(out, png_crc(out.data() + start, out.size() - start) ^ 0xffffffffu);
}

// `samples`: row-major, channels per pixel by colour type (0:1, 2:3, 4:2, 6:4), big-endian
// 16-bit values when depth is 16 (pass them as values; this writes the bytes).
inline std::vector<uint8_t> make_png(uint32_t w, uint32_t h, int depth, int color_type,
                                     const std::vector<uint16_t>& samples) {
  const int channels = color_type == 0 ? 1 : color_type == 2 ? 3 : color_type == 4 ? 2 : 4;
  std::vector<uint8_t> raw;
  size_t i = 0;
  for (uint32_t y = 0; y < h; ++y) {
    raw.push_back(0);  // filter: none
    for (uint32_t x = 0; x < w * channels; ++x, ++i) {
      const uint16_t s = i < samples.size() ? samples[i] : 0;
      if (depth == 16) raw.push_back(uint8_t(s >> 8));
      raw.push_back(uint8_t(s));
    }
  }
  std::vector<uint8_t> z = {0x78, 0x01};
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    z.push_back(pos + n == raw.size() ? 1 : 0);
    z.push_back(uint8_t(n));
    z.push_back(uint8_t(n >> 8));
    z.push_back(uint8_t(~n));
    z.push_back(uint8_t(~n >> 8));
    z.insert(z.end(), raw.begin() + pos, raw.begin() + pos + n);
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;
  for (uint8_t c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put32(z, (b << 16) | a);

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put32(ihdr, w);
  put32(ihdr, h);
  ihdr.insert(ihdr.end(), {uint8_t(depth), uint8_t(color_type), 0, 0, 0});
  png_chunk(png, "IHDR", ihdr);
  png_chunk(png, "IDAT", z);
  png_chunk(png, "IEND", {});
  return png;
}

}  // namespace smolvk::test
