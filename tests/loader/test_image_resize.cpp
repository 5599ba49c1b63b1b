// resize() against Pillow's Image.resize: hand-derived coefficients and Pillow's own output.
#include <gtest/gtest.h>

#include "loader/error.h"
#include "loader/resize.h"

namespace smolvk {
namespace {

Image grey_row(std::vector<uint8_t> v) {
  Image im{int(v.size()), 1, {}};
  for (uint8_t x : v) im.rgb.insert(im.rgb.end(), {x, x, x});
  return im;
}

std::vector<uint8_t> red_of(const Image& im) {
  std::vector<uint8_t> r;
  for (size_t i = 0; i < im.rgb.size(); i += 3) r.push_back(im.rgb[i]);
  return r;
}

TEST(Resize, ConstantImageStaysConstant) {
  Image im{13, 9, std::vector<uint8_t>(13 * 9 * 3)};
  for (size_t i = 0; i < im.rgb.size(); i += 3) im.rgb[i] = 17, im.rgb[i + 1] = 200, im.rgb[i + 2] = 255;
  for (Resample f :
       {Resample::Nearest, Resample::Lanczos, Resample::Bilinear, Resample::Bicubic, Resample::Box, Resample::Hamming})
    for (auto [w, h] : {std::pair{40, 31}, std::pair{5, 2}, std::pair{13, 30}, std::pair{1, 1}}) {
      const Image out = resize(im, w, h, f);
      ASSERT_EQ(out.rgb.size(), size_t(w) * h * 3);
      for (size_t i = 0; i < out.rgb.size(); i += 3)
        ASSERT_TRUE(out.rgb[i] == 17 && out.rgb[i + 1] == 200 && out.rgb[i + 2] == 255)
            << resample_name(f) << " " << w << "x" << h;
    }
}

// Bilinear 2 → 4: scale 0.5, support 1. Output 1 has center 0.75, taps at offsets −0.25 and
// 0.75 → weights 0.75 / 0.25, so 255·0.25 = 63.75 → (2²¹ + 255·1048576) >> 22 = 64; output 2
// mirrors it: 191.25 + 0.5 → 191; the edges see one tap each.
TEST(Resize, BilinearOnPaper) {
  EXPECT_EQ(red_of(resize(grey_row({0, 255}), 4, 1, Resample::Bilinear)), (std::vector<uint8_t>{0, 64, 191, 255}));
}

// Lanczos 3 → 1: scale 3, taps at −1/3, 0, 1/3 of the stretched kernel: L(1/3) =
// sinc(1/3)·sinc(1/9) = 0.82699·0.97982 = 0.81030, so weights 0.30920, 0.38159, 0.30920;
// 255·0.30920 = 78.85 → 79. Lanczos 2 → 5 shows the negative lobes (Pillow: 0 22 128 233 255).
TEST(Resize, LanczosOnPaper) {
  EXPECT_EQ(red_of(resize(grey_row({0, 0, 255}), 1, 1, Resample::Lanczos)), (std::vector<uint8_t>{79}));
  EXPECT_EQ(red_of(resize(grey_row({0, 255}), 5, 1, Resample::Lanczos)), (std::vector<uint8_t>{0, 22, 128, 233, 255}));
}

// A 7×5 pattern resized to 11×3; expected bytes printed by Pillow 9.4 Image.resize.
TEST(Resize, MatchesPillowBitForBit) {
  Image im{7, 5, {}};
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x)
      im.rgb.insert(im.rgb.end(), {uint8_t((x * 37 + y * 91) % 256), uint8_t((x * x * 13 + y * 7) % 256),
                                   uint8_t((x + y) % 2 ? 255 : 0)});
  const std::vector<std::pair<Resample, std::vector<uint8_t>>> cases = {
      {Resample::Nearest,
       {0,   0,   0,   0,   0,   0,   37,  13,  255, 74,  52,  0,   74,  52,  0,   111, 117, 255, 148, 208,
        0,   148, 208, 0,   185, 69,  255, 222, 212, 0,   222, 212, 0,   182, 14,  0,   182, 14,  0,   219,
        27,  255, 0,   66,  0,   0,   66,  0,   37,  131, 255, 74,  222, 0,   74,  222, 0,   111, 83,  255,
        148, 226, 0,   148, 226, 0,   108, 28,  0,   108, 28,  0,   145, 41,  255, 182, 80,  0,   182, 80,
        0,   219, 145, 255, 0,   236, 0,   0,   236, 0,   37,  97,  255, 74,  240, 0,   74,  240, 0}},
      {Resample::Lanczos,
       {42,  2,   101, 55,  5,   128, 84,  17,  153, 109, 42,  109, 129, 70,  116, 154, 119, 154, 189, 205,
        116, 167, 175, 109, 108, 72,  153, 118, 142, 128, 148, 232, 101, 122, 14,  141, 155, 17,  127, 160,
        29,  115, 80,  54,  137, 56,  82,  133, 90,  131, 114, 136, 217, 133, 137, 187, 137, 112, 84,  115,
        129, 154, 127, 153, 244, 141, 62,  26,  101, 77,  29,  128, 106, 41,  153, 126, 66,  109, 165, 94,
        116, 176, 143, 154, 98,  229, 116, 70,  199, 109, 109, 96,  153, 147, 166, 128, 157, 254, 101}},
      {Resample::Bilinear,
       {39,  3,   109, 56,  9,   126, 79,  20,  142, 103, 44,  119, 126, 79,  123, 150, 120, 146, 174, 178,
        123, 167, 173, 119, 121, 85,  142, 134, 150, 126, 151, 215, 109, 125, 14,  113, 142, 20,  126, 152,
        31,  139, 86,  55,  121, 70,  90,  124, 94,  131, 142, 118, 189, 124, 125, 184, 121, 113, 96,  139,
        131, 161, 126, 148, 226, 113, 69,  25,  109, 86,  31,  126, 109, 42,  142, 133, 66,  119, 156, 101,
        123, 180, 142, 146, 111, 200, 123, 81,  195, 119, 105, 107, 142, 128, 172, 126, 145, 237, 109}},
      {Resample::Bicubic,
       {39,  2,   106, 53,  5,   126, 80,  17,  148, 104, 41,  114, 127, 75,  119, 151, 119, 149, 183, 193,
        119, 172, 181, 114, 114, 74,  148, 129, 147, 126, 151, 224, 106, 125, 13,  126, 150, 17,  127, 160,
        29,  129, 77,  53,  126, 59,  87,  127, 91,  131, 129, 125, 205, 127, 133, 193, 126, 111, 86,  129,
        132, 159, 127, 151, 236, 126, 65,  25,  106, 81,  29,  126, 108, 41,  148, 132, 65,  114, 161, 99,
        119, 179, 143, 149, 102, 217, 119, 72,  205, 114, 107, 98,  148, 136, 171, 126, 151, 248, 106}},
  };
  for (const auto& [filter, expected] : cases) {
    const Image out = resize(im, 11, 3, filter);
    EXPECT_EQ(out.rgb, expected) << resample_name(filter);
  }
}

// Images large enough that resize() splits each pass into parts on several threads (at least
// two on any machine with two cores, as CI's): the whole output must still be Pillow's, so
// no row is lost, doubled or cut at a part's edge. Pillow 9.4's outputs as FNV-1a 64 hashes
// (tools/reference/make_resize_golden.py, which builds the same pattern).
TEST(Resize, LargeImagesMatchPillow) {
  struct Case {
    int in_w, in_h, out_w, out_h, pil_filter;
    uint64_t fnv;
  };
  const Case cases[] = {
      {320, 240, 1024, 768, 1, 0x5685cfc9de6d08ebull},  // up, both passes
      {1024, 768, 383, 257, 3, 0x3c1336d2e3f1ede6ull},  // down, both passes
      {300, 1000, 300, 517, 1, 0x9a0a1483e4de7f2full},  // vertical pass only
      {1000, 300, 517, 300, 2, 0x0abc037706cee1f2ull},  // horizontal pass only
  };
  for (const Case& c : cases) {
    Image im{c.in_w, c.in_h, std::vector<uint8_t>(size_t(c.in_w) * c.in_h * 3)};
    for (int y = 0; y < c.in_h; ++y)
      for (int x = 0; x < c.in_w; ++x)
        for (int ch = 0; ch < 3; ++ch)
          im.rgb[(size_t(y) * c.in_w + x) * 3 + ch] = uint8_t((x * 7 + y * 13 + (x * y) % 31 + 85 * ch) % 256);
    const Resample filter = resample_from_pil(c.pil_filter, "test");
    const Image out = resize(im, c.out_w, c.out_h, filter);
    ASSERT_EQ(out.width, c.out_w);
    ASSERT_EQ(out.height, c.out_h);
    ASSERT_EQ(out.rgb.size(), size_t(c.out_w) * c.out_h * 3);
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t v : out.rgb) h = (h ^ v) * 0x100000001b3ull;
    EXPECT_EQ(h, c.fnv) << c.in_w << "x" << c.in_h << " -> " << c.out_w << "x" << c.out_h << " "
                        << resample_name(filter);
  }
}

TEST(Resize, SameSizeIsACopyAndOnePassWhenOneSideKeeps) {
  Image im{3, 2, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}};
  EXPECT_EQ(resize(im, 3, 2, Resample::Lanczos).rgb, im.rgb);
  // Only the width changes: rows stay independent.
  const Image wide = resize(grey_row({0, 255}), 4, 1, Resample::Bilinear);
  Image two_rows{2, 2, {0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255}};
  const Image out = resize(two_rows, 4, 2, Resample::Bilinear);
  EXPECT_EQ(std::vector<uint8_t>(out.rgb.begin(), out.rgb.begin() + 12), wide.rgb);
  EXPECT_EQ(std::vector<uint8_t>(out.rgb.begin() + 12, out.rgb.end()), wide.rgb);
}

TEST(ResizeErrors, BadSizesAndFilterIds) {
  const Image im = grey_row({1, 2});
  EXPECT_THROW(resize(im, 0, 1, Resample::Lanczos), LoadError);
  EXPECT_THROW(resize(im, 3, -1, Resample::Bicubic), LoadError);
  EXPECT_THROW(resize(Image{2, 2, {1, 2, 3}}, 3, 3, Resample::Bicubic), LoadError);
  EXPECT_EQ(resample_from_pil(1, "cfg"), Resample::Lanczos);
  try {
    resample_from_pil(7, "preprocessor_config.json: \"resample\"");
    FAIL() << "expected a LoadError";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("resample = 7, expected a PIL filter id 0..5"), std::string::npos);
  }
}

}  // namespace
}  // namespace smolvk
