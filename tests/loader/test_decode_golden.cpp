// Images as users have them, decoded as transformers decodes them: the files of
// tests/data/images/decode (JPEG baseline 4:2:0 / 4:2:2 / 4:4:4, progressive, optimized, grey;
// WebP lossy and lossless, with and without alpha; palette PNGs, one with a transparent
// index; grey + alpha; 16-bit RGB) and the RGB bytes PIL gives for each after convert("RGB"),
// written by tools/reference/make_decode_golden.py. Every byte must be equal.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "loader/error.h"
#include "loader/image.h"
#include "loader/npy.h"
#include "loader/preprocess.h"
#include "tests/test_util.h"

using namespace smolvk;

namespace {

const std::filesystem::path kDir = test::data_dir() / "images" / "decode";

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(DecodeGolden, EveryFormatGivesPilsBytes) {
  std::ifstream in(kDir / "cases.json");
  ASSERT_TRUE(in) << kDir / "cases.json";
  const auto meta = nlohmann::json::parse(in);
  ASSERT_GE(meta.at("cases").size(), 14u);
  for (const auto& c : meta.at("cases")) {
    const std::string file = c.at("file");
    SCOPED_TRACE(file + " (PIL mode " + c.at("mode").get<std::string>() + ")");
    const Image im = load_image(kDir / file);
    ASSERT_EQ(im.width, c.at("width").get<int>());
    ASSERT_EQ(im.height, c.at("height").get<int>());
    const std::vector<uint8_t> want = read_bytes(kDir / (file + ".rgb"));
    ASSERT_EQ(im.rgb.size(), want.size());
    size_t differ = 0, first = want.size();
    for (size_t i = 0; i < want.size(); ++i)
      if (im.rgb[i] != want[i] && differ++ == 0) first = i;
    EXPECT_EQ(differ, 0u) << "bytes differ, the first at pixel " << first / 3 << " channel " << first % 3 << ": "
                          << int(first < want.size() ? im.rgb[first] : 0) << " vs PIL's "
                          << int(first < want.size() ? want[first] : 0);
  }
}

// Decode + the SmolVLM processor against transformers 5.17's SmolVLMImageProcessorPil on the
// same files (PIL 12.3 on libjpeg-turbo 3.1.4 and libwebp 1.6.0, which decoded every file to
// the same bytes as Debian's PIL), with tests/data/smolvlm_f32_s3's processor:
// tools/reference/make_decode_pixel_values.py. Every float must be equal.
TEST(DecodeGolden, PixelValuesAreTransformers) {
  const ProcessorConfig cfg = ProcessorConfig::load(test::data_dir() / "smolvlm_f32_s3");
  std::ifstream in(kDir / "pixel_values" / "pixel_values.json");
  ASSERT_TRUE(in);
  const auto meta = nlohmann::json::parse(in);
  ASSERT_GE(meta.at("files").size(), 14u);
  for (const auto& f : meta.at("files")) {
    const std::string file = f.at("file");
    SCOPED_TRACE(file);
    const NpyArray want = read_npy(kDir / "pixel_values" / (file + ".npy"));
    const ProcessedImage got = preprocess_image(load_image(kDir / file), cfg);
    ASSERT_EQ(want.shape.size(), 4u);
    ASSERT_EQ(int64_t(got.num_tiles), want.shape[0]);
    ASSERT_EQ(got.pixel_values.size(), want.floats.size());
    EXPECT_EQ(got.pixel_values, want.floats);
  }
}

TEST(DecodeGolden, WebPSizeFromTheHeaderAndClearErrors) {
  const std::vector<uint8_t> webp = read_bytes(kDir / "lossy.webp");
  int w = 0, h = 0;
  ASSERT_TRUE(image_size(webp, "lossy.webp", w, h));
  EXPECT_EQ(w, 67);
  EXPECT_EQ(h, 45);
  std::vector<uint8_t> cut(webp.begin(), webp.begin() + std::ptrdiff_t(webp.size() / 2));
  try {
    decode_image(cut, "cut.webp");
    FAIL() << "a truncated WebP decoded";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.webp: cannot decode WebP"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> header_only(webp.begin(), webp.begin() + 12);  // RIFF....WEBP and nothing else
  EXPECT_THROW(decode_image(header_only, "header.webp"), LoadError);
}
