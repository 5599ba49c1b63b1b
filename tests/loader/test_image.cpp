// Image decoding: formats, PIL-equivalent conversion to RGB, and refusal of bad input.
#include <gtest/gtest.h>

#include "tests/loader/error_of.h"
#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "loader/error.h"
#include "loader/image.h"
#include "tests/loader/test_image_png.h"

namespace smolvk {
namespace {

using test::make_png;

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> rgb_of(const Image& im) { return im.rgb; }

using test::error_of;

TEST(Image, DecodesRgbPngExactly) {
  const auto png = make_png(2, 2, 8, 2, {1, 2, 3, 4, 5, 6, 250, 251, 252, 0, 128, 255});
  const Image im = decode_image(png, "rgb.png");
  EXPECT_EQ(im.width, 2);
  EXPECT_EQ(im.height, 2);
  EXPECT_EQ(rgb_of(im), (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 250, 251, 252, 0, 128, 255}));
}

TEST(Image, GreyIsReplicated) {
  const Image im = decode_image(make_png(3, 1, 8, 0, {0, 77, 255}), "grey.png");
  EXPECT_EQ(rgb_of(im), (std::vector<uint8_t>{0, 0, 0, 77, 77, 77, 255, 255, 255}));
}

// Expected values: Pillow's Image.alpha_composite(white, rgba).convert("RGB").
TEST(Image, RgbaIsCompositedOverWhiteWithPilRounding) {
  const auto png = make_png(
      6, 1, 8, 6, {0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 128, 200, 100, 50, 1, 200, 100, 50, 254, 10, 20, 30, 77});
  const Image im = decode_image(png, "rgba.png", AlphaPolicy::CompositeOverWhite);
  EXPECT_EQ(rgb_of(im),
            (std::vector<uint8_t>{255, 255, 255, 0, 0, 0, 127, 127, 127, 255, 254, 254, 200, 101, 51, 181, 184, 187}));
}

TEST(Image, CompositeOverWhiteFormulaOnPaper) {
  // a = 128: coef1 = 128·128 = 16384, coef2 = 255·128 − 16384 = 16256;
  // tmp = 0·16384 + 255·16256 + 128·128 = 4161664; ((tmp>>8)+tmp)>>8>>7 = 127.
  EXPECT_EQ(composite_over_white(0, 128), 127);
  EXPECT_EQ(composite_over_white(123, 0), 255);
  for (int v = 0; v < 256; ++v) EXPECT_EQ(composite_over_white(uint8_t(v), 255), v);
}

// transformers 5.x (the goldens) converts with plain convert("RGB"): alpha is dropped.
TEST(Image, DefaultDropsAlphaLikeTransformers5) {
  const auto png = make_png(2, 1, 8, 6, {10, 20, 30, 0, 40, 50, 60, 128});
  EXPECT_EQ(rgb_of(decode_image(png, "a.png")), (std::vector<uint8_t>{10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(rgb_of(decode_image(make_png(1, 1, 8, 4, {10, 0}), "la.png")), (std::vector<uint8_t>{10, 10, 10}));
}

TEST(Image, GreyAlphaIsCompositedOverWhite) {
  // (10, 128): 128·(10·128 + 255·127) rounded by PIL's shifts = 132.
  const Image im = decode_image(make_png(2, 1, 8, 4, {10, 128, 200, 255}), "la.png", AlphaPolicy::CompositeOverWhite);
  EXPECT_EQ(rgb_of(im), (std::vector<uint8_t>{132, 132, 132, 200, 200, 200}));
}

TEST(Image, SixteenBitPngsFollowPil) {
  // Grey 16-bit opens as PIL mode I: convert("RGB") clips to 255.
  const Image g = decode_image(make_png(4, 1, 16, 0, {0, 100, 256, 65535}), "g16.png");
  EXPECT_EQ(rgb_of(g), (std::vector<uint8_t>{0, 0, 0, 100, 100, 100, 255, 255, 255, 255, 255, 255}));
  // RGB 16-bit opens as 8-bit RGB: the high byte.
  const Image c = decode_image(make_png(1, 1, 16, 2, {0x1234, 0xabcd, 0x00ff}), "c16.png");
  EXPECT_EQ(rgb_of(c), (std::vector<uint8_t>{0x12, 0xab, 0x00}));
}

TEST(Image, DecodesPnmBmpTgaGifJpeg) {
  const Image ppm = decode_image(bytes_of(std::string("P6\n2 1\n255\n") + "\x01\x02\x03\xfa\xfb\xfc"), "a.ppm");
  EXPECT_EQ(rgb_of(ppm), (std::vector<uint8_t>{1, 2, 3, 250, 251, 252}));
  const Image pgm = decode_image(bytes_of(std::string("P5\n2 1\n255\n") + "\x07\x09"), "a.pgm");
  EXPECT_EQ(rgb_of(pgm), (std::vector<uint8_t>{7, 7, 7, 9, 9, 9}));

  const std::vector<uint8_t> px = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};  // 2×2 RGB
  for (const char* fmt : {"bmp", "tga"}) {
    std::vector<uint8_t> file;
    auto sink = [](void* ctx, void* data, int n) {
      auto* v = static_cast<std::vector<uint8_t>*>(ctx);
      v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
    };
    if (std::string(fmt) == "bmp")
      ASSERT_TRUE(stbi_write_bmp_to_func(sink, &file, 2, 2, 3, px.data()));
    else
      ASSERT_TRUE(stbi_write_tga_to_func(sink, &file, 2, 2, 3, px.data()));
    EXPECT_EQ(rgb_of(decode_image(file, std::string("a.") + fmt)), px) << fmt;
  }

  // GIF written by Pillow: 3×2, palette red, green, blue, (10, 20, 30).
  const std::vector<uint8_t> gif = {0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x03, 0x00, 0x02, 0x00, 0x81, 0x00,
                                    0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0x0a, 0x14,
                                    0x1e, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x08,
                                    0x09, 0x00, 0x01, 0x04, 0x10, 0x30, 0x40, 0x40, 0x80, 0x80, 0x00, 0x3b};
  EXPECT_EQ(rgb_of(decode_image(gif, "a.gif")),
            (std::vector<uint8_t>{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 0, 0, 255, 0, 255, 0}));

  // JPEG is lossy (and stb's encoder is not libjpeg's): check the colour.
  std::vector<uint8_t> solid(16 * 16 * 3);
  for (size_t i = 0; i < solid.size(); i += 3) solid[i] = 200, solid[i + 1] = 100, solid[i + 2] = 50;
  std::vector<uint8_t> jpg;
  ASSERT_TRUE(stbi_write_jpg_to_func(
      [](void* ctx, void* data, int n) {
        auto* v = static_cast<std::vector<uint8_t>*>(ctx);
        v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
      },
      &jpg, 16, 16, 3, solid.data(), 95));
  const Image j = decode_image(jpg, "a.jpg");
  ASSERT_EQ(j.rgb.size(), solid.size());
  for (size_t i = 0; i < solid.size(); ++i) EXPECT_NEAR(j.rgb[i], solid[i], 3) << i;
}

TEST(ImageErrors, EmptyAndNotAnImage) {
  EXPECT_NE(error_of([] { decode_image({}, "empty.png"); }).find("empty.png: file is empty"), std::string::npos);
  const std::string msg = error_of([] { decode_image(bytes_of("hello, I am text"), "notes.txt"); });
  EXPECT_NE(msg.find("notes.txt: not a decodable image"), std::string::npos) << msg;
}

TEST(ImageErrors, ZeroSize) {
  const std::string msg = error_of([] { decode_image(make_png(0, 5, 8, 2, {}), "zero.png"); });
  EXPECT_NE(msg.find("zero.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0-pixel"), std::string::npos) << msg;
}

TEST(ImageErrors, TruncatedPng) {
  auto png = make_png(40, 30, 8, 2, std::vector<uint16_t>(40 * 30 * 3, 7));
  png.resize(png.size() / 2);
  const std::string msg = error_of([&] { decode_image(png, "cut.png"); });
  // Caught before stb_image runs: the IDAT chunk declares more bytes than the file has left.
  EXPECT_NE(msg.find("cut.png: PNG chunk 'IDAT'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(truncated or corrupt PNG)"), std::string::npos) << msg;
}

// Only the header is needed: the limit is checked before any pixel is decoded.
std::vector<uint8_t> png_header(uint32_t w, uint32_t h) {
  auto png = make_png(1, 1, 8, 2, {0, 0, 0});
  for (int i = 0; i < 4; ++i) png[16 + i] = uint8_t(w >> (24 - 8 * i)), png[20 + i] = uint8_t(h >> (24 - 8 * i));
  const uint32_t crc = test::png_crc(png.data() + 12, 17) ^ 0xffffffffu;
  for (int i = 0; i < 4; ++i) png[29 + i] = uint8_t(crc >> (24 - 8 * i));
  return png;
}

TEST(ImageErrors, OverTheSizeLimits) {
  std::string msg = error_of([] { decode_image(png_header(kMaxImageSide + 1, 10), "wide.png"); });
  EXPECT_NE(msg.find("wide.png: image is 16385x10, over the limit"), std::string::npos) << msg;
  msg = error_of([] { decode_image(png_header(12000, 9000), "big.png"); });  // 108 M pixels
  EXPECT_NE(msg.find("big.png: image is 12000x9000, over the limit"), std::string::npos) << msg;
}

TEST(ImageErrors, MissingFile) {
  const std::string msg = error_of([] { load_image("/nonexistent/dir/photo.png"); });
  EXPECT_NE(msg.find("/nonexistent/dir/photo.png: cannot read image file"), std::string::npos) << msg;
}

TEST(Image, LoadImageReadsFile) {
  const auto path = std::filesystem::temp_directory_path() / "smolvk_test_image_load.png";
  const auto png = make_png(1, 2, 8, 2, {9, 8, 7, 6, 5, 4});
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
  const Image im = load_image(path);
  std::filesystem::remove(path);
  EXPECT_EQ(im.height, 2);
  EXPECT_EQ(rgb_of(im), (std::vector<uint8_t>{9, 8, 7, 6, 5, 4}));
}

}  // namespace
}  // namespace smolvk
