// The image processor's rules on synthetic images and configs (no fixture files needed).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loader/error.h"
#include "loader/preprocess.h"
#include "loader/resize.h"

namespace smolvk {
namespace {

ProcessorConfig hub_config(int longest_edge, int tile) {
  ProcessorConfig c;
  c.longest_edge = longest_edge;
  c.max_image_longest_edge = tile;
  return c;
}

Image pattern(int w, int h) {
  Image im{w, h, {}};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) im.rgb.insert(im.rgb.end(), {uint8_t(x * 7 + y), uint8_t(y * 5), uint8_t(x ^ y)});
  return im;
}

TEST(Preprocess, SizeRules) {
  // 1000×700 with 2048: height = int(2048 / (1000/700)) = 1433 → even 1434.
  EXPECT_EQ(resize_output_size(700, 1000, 2048), (std::pair{1434, 2048}));
  EXPECT_EQ(resize_output_size(300, 300, 2048), (std::pair{2048, 2048}));  // small images grow
  EXPECT_EQ(resize_output_size(70, 30, 96), (std::pair{96, 42}));          // 96·(30/70) = 41.1 → 42
  EXPECT_EQ(resize_output_size(1, 16000, 2048), (std::pair{1, 2048}));     // never below 1
  EXPECT_EQ(resize_output_size(100, 10, 8192), (std::pair{4096, 410}));    // 4096 cap: 820 → int(4096·0.1)
  EXPECT_EQ(vision_encoder_size(1434, 2048, 512), (std::pair{1536, 2048}));
  EXPECT_EQ(vision_encoder_size(96, 42, 32), (std::pair{96, 64}));
}

TEST(Preprocess, TileCounts) {
  const ProcessorConfig cfg = hub_config(2048, 512);
  const ProcessedImage a = preprocess_image(pattern(1000, 700), cfg);
  EXPECT_EQ(a.rows, 3);
  EXPECT_EQ(a.cols, 4);
  EXPECT_EQ(a.num_tiles, 13);
  EXPECT_EQ(a.height, 512);
  EXPECT_EQ(a.width, 512);
  EXPECT_EQ(a.pixel_values.size(), size_t(13) * 3 * 512 * 512);
  const ProcessedImage b = preprocess_image(pattern(300, 300), cfg);
  EXPECT_EQ(b.grid(), (ImageGrid{4, 4}));
  EXPECT_EQ(b.num_tiles, 17);
}

// image_layout (what the image cache uses instead of preprocessing an image it holds) gives
// exactly preprocess_image's grid and tile size, split or not, resized or not.
TEST(Preprocess, LayoutWithoutPixelsMatchesPreprocessing) {
  for (bool split : {true, false})
    for (bool resize : {true, false})
      for (auto [w, h] : {std::pair{200, 140}, {60, 60}, {70, 30}, {20, 100}}) {
        SCOPED_TRACE(testing::Message() << w << "x" << h << " split " << split << " resize " << resize);
        ProcessorConfig cfg = hub_config(96, 32);
        cfg.do_image_splitting = split;
        cfg.do_resize = resize;
        const Image im = pattern(w, h);
        const ProcessedImage full = preprocess_image(im, cfg), layout = image_layout(im, cfg);
        EXPECT_EQ(layout.grid(), full.grid());
        EXPECT_EQ(layout.num_tiles, full.num_tiles);
        EXPECT_EQ(layout.height, full.height);
        EXPECT_EQ(layout.width, full.width);
        EXPECT_TRUE(layout.pixel_values.empty());
      }
  EXPECT_THROW(image_layout(Image{4, 4, {}}, hub_config(96, 32)), LoadError);
}

float normalized(uint8_t p) { return (float(double(p) * (1.0 / 255.0)) - 0.5f) / 0.5f; }

// Tiles are row-major crops of the resized image, the global image (the whole image resized
// to M×M) comes last, and values are rescaled then normalized channel-first.
TEST(Preprocess, TileOrderAndValues) {
  const ProcessorConfig cfg = hub_config(96, 32);
  const Image src = pattern(100, 60);
  const ProcessedImage p = preprocess_image(src, cfg);
  ASSERT_EQ(p.grid(), (ImageGrid{2, 3}));  // 96×58 → 96×64
  const Image big = resize(resize(src, 96, 58, Resample::Lanczos), 96, 64, Resample::Lanczos);
  const Image global = resize(big, 32, 32, Resample::Lanczos);
  const size_t plane = 32 * 32;
  for (int t = 0; t < 7; ++t)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) {
          const uint8_t want = t < 6 ? big.pixel((t % 3) * 32 + x, (t / 3) * 32 + y)[c] : global.pixel(x, y)[c];
          ASSERT_EQ(p.pixel_values[(t * 3 + c) * plane + y * 32 + x], normalized(want))
              << "tile " << t << " c " << c << " y " << y << " x " << x;
        }
  EXPECT_EQ(std::count(p.pixel_mask.begin(), p.pixel_mask.end(), 1), 7 * 1024);
  EXPECT_EQ(normalized(0), -1.0f);
  EXPECT_EQ(normalized(255), 1.0f);
}

TEST(Preprocess, UnsplitIsSquashedToTheTileSize) {
  ProcessorConfig cfg = hub_config(36, 36);
  cfg.do_image_splitting = false;
  const ProcessedImage p = preprocess_image(pattern(120, 40), cfg);
  EXPECT_EQ(p.grid(), (ImageGrid{0, 0}));
  EXPECT_EQ(p.num_tiles, 1);
  EXPECT_EQ(p.height, 36);
  EXPECT_EQ(p.width, 36);
  EXPECT_EQ(std::count(p.pixel_mask.begin(), p.pixel_mask.end(), 1), 36 * 36);
}

TEST(Preprocess, RescaleAndNormalizeSwitches) {
  ProcessorConfig cfg = hub_config(4, 4);
  cfg.do_image_splitting = false;
  Image one{1, 1, {51, 102, 255}};
  cfg.do_normalize = false;
  ProcessedImage p = preprocess_image(one, cfg);
  EXPECT_EQ(p.pixel_values[0], float(51.0 / 255.0));
  cfg.do_rescale = false;
  p = preprocess_image(one, cfg);
  EXPECT_EQ(p.pixel_values[16], 102.0f);  // channel 1 of the 4×4 tile
  cfg.do_normalize = true;
  cfg.image_mean = {100, 100, 100};
  cfg.image_std = {2, 2, 2};
  p = preprocess_image(one, cfg);
  EXPECT_EQ(p.pixel_values[32], 77.5f);  // (255 − 100) / 2
}

ProcessedImage hand_made(int tiles, int h, int w, float value) {
  ProcessedImage p;
  p.num_tiles = tiles;
  p.height = h;
  p.width = w;
  p.pixel_values.assign(size_t(tiles) * 3 * h * w, value);
  p.pixel_mask.assign(size_t(tiles) * h * w, 1);
  return p;
}

TEST(Preprocess, PadBatchZeroPadsTilesAndCounts) {
  std::vector<std::vector<ProcessedImage>> rows(2);
  rows[0].push_back(hand_made(1, 2, 3, 1.0f));
  rows[0].push_back(hand_made(1, 2, 3, 2.0f));
  rows[1].push_back(hand_made(1, 3, 2, 3.0f));
  const ProcessedBatch b = pad_batch(rows);
  ASSERT_EQ(b.batch, 2);
  ASSERT_EQ(b.max_tiles, 2);
  ASSERT_EQ(b.height, 3);
  ASSERT_EQ(b.width, 3);
  // [row][tile][y][x] masks: row 0 tiles are 2×3 (bottom row padded), row 1 tile 3×2, then empty.
  const std::vector<uint8_t> want_mask = {1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0,
                                          1, 1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(b.pixel_mask, want_mask);
  for (size_t i = 0; i < want_mask.size(); ++i) {
    const size_t tile = i / 9, pix = i % 9;
    const float v = tile == 0 ? 1.0f : tile == 1 ? 2.0f : 3.0f;
    for (int c = 0; c < 3; ++c) EXPECT_EQ(b.pixel_values[(tile * 3 + c) * 9 + pix], want_mask[i] ? v : 0.0f) << i;
  }
  EXPECT_EQ(b.grids, (std::vector<std::vector<ImageGrid>>{{{0, 0}, {0, 0}}, {{0, 0}}}));
}

TEST(Preprocess, BadInputIsAnError) {
  EXPECT_THROW(preprocess_image(Image{2, 2, {1, 2, 3}}, ProcessorConfig{}), LoadError);
  std::vector<std::vector<ProcessedImage>> rows(1);
  rows[0].push_back(hand_made(2, 2, 2, 0.0f));
  rows[0][0].pixel_mask.pop_back();
  EXPECT_THROW(pad_batch(rows), LoadError);
}

TEST(ProcessorConfig, DefaultsAreTransformersDefaults) {
  const ProcessorConfig c = ProcessorConfig::from_json(nlohmann::json::object(), "empty.json");
  EXPECT_EQ(c.longest_edge, 1456);
  EXPECT_EQ(c.max_image_longest_edge, 364);
  EXPECT_EQ(c.resample, Resample::Lanczos);
  EXPECT_EQ(c.rescale_factor, 1.0 / 255.0);
  EXPECT_TRUE(c.do_resize && c.do_rescale && c.do_normalize && c.do_image_splitting && c.do_pad && c.do_convert_rgb);
  EXPECT_EQ(c.image_mean, (std::array<double, 3>{0.5, 0.5, 0.5}));
  EXPECT_EQ(c.image_seq_len, 169);
}

TEST(ProcessorConfig, ReadsEveryKey) {
  const auto j = nlohmann::json::parse(R"({"do_resize": false, "size": {"longest_edge": 2048},
      "max_image_size": {"longest_edge": 512}, "resample": 3, "do_rescale": true,
      "rescale_factor": 0.5, "do_normalize": false, "image_mean": [0.1, 0.2, 0.3], "image_std": 0.25,
      "do_image_splitting": false, "do_pad": false, "do_convert_rgb": false})");
  const auto proc = nlohmann::json::parse(R"({"image_seq_len": 64})");
  const ProcessorConfig c = ProcessorConfig::from_json(j, "pre.json", &proc);
  EXPECT_FALSE(c.do_resize);
  EXPECT_EQ(c.longest_edge, 2048);
  EXPECT_EQ(c.max_image_longest_edge, 512);
  EXPECT_EQ(c.resample, Resample::Bicubic);
  EXPECT_EQ(c.rescale_factor, 0.5);
  EXPECT_FALSE(c.do_normalize);
  EXPECT_EQ(c.image_mean, (std::array<double, 3>{0.1, 0.2, 0.3}));
  EXPECT_EQ(c.image_std, (std::array<double, 3>{0.25, 0.25, 0.25}));
  EXPECT_FALSE(c.do_image_splitting || c.do_pad || c.do_convert_rgb);
  EXPECT_EQ(c.image_seq_len, 64);
}

TEST(ProcessorConfig, BadValuesNameTheKey) {
  const auto expect_error = [](const char* text, const char* fragment) {
    try {
      ProcessorConfig::from_json(nlohmann::json::parse(text), "pre.json");
      ADD_FAILURE() << "no error for " << text;
    } catch (const LoadError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(R"({"resample": 9})", "resample = 9");
  expect_error(R"({"size": {"height": 10, "width": 10}})", "pre.json: \"size\"");
  expect_error(R"({"max_image_size": {"longest_edge": 0}})", "max_image_size.longest_edge\" = 0");
  expect_error(R"({"image_std": [0.5, 0, 0.5]})", "\"image_std\" = [0.5,0,0.5], expected non-zero");
  expect_error(R"({"image_mean": [0.5, 0.5]})", "\"image_mean\" = [0.5,0.5]");
  expect_error(R"({"do_resize": "yes"})", "\"do_resize\" = \"yes\", expected true or false");
  expect_error(R"({"rescale_factor": -1})", "\"rescale_factor\" = -1");
  expect_error(R"([1, 2])", "expected a JSON object");
}

TEST(ProcessorConfig, CheckAgainstModelConfig) {
  ProcessorConfig c = hub_config(2048, 512);
  c.image_seq_len = 64;
  EXPECT_NO_THROW(c.check_against_model(512, 16, 4, "config.json"));  // (512/16)² / 4² = 64
  c.image_seq_len = 81;
  try {
    c.check_against_model(512, 16, 4, "config.json");
    ADD_FAILURE() << "no error";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("image_seq_len = 81 but config.json gives (512/16)^2/4^2 = 64"),
              std::string::npos)
        << e.what();
  }
  c.image_seq_len = 64;
  EXPECT_THROW(c.check_against_model(384, 12, 4, "config.json"), LoadError);  // 64 tokens, but 384 ≠ 512
}

TEST(ProcessorConfig, LoadFromDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / "smolvk_test_processor_config";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  EXPECT_THROW(ProcessorConfig::load(dir), LoadError);  // nothing there
  // transformers 5.x: everything in processor_config.json.
  std::ofstream(dir / "processor_config.json")
      << R"({"image_processor": {"size": {"longest_edge": 96}, "max_image_size": {"longest_edge": 32}}, "image_seq_len": 16})";
  ProcessorConfig c = ProcessorConfig::load(dir);
  EXPECT_EQ(c.longest_edge, 96);
  EXPECT_EQ(c.max_image_longest_edge, 32);
  EXPECT_EQ(c.image_seq_len, 16);
  // 4.x: preprocessor_config.json wins for the image processor.
  std::ofstream(dir / "preprocessor_config.json") << R"({"size": {"longest_edge": 128}})";
  c = ProcessorConfig::load(dir);
  EXPECT_EQ(c.longest_edge, 128);
  EXPECT_EQ(c.image_seq_len, 16);
  std::ofstream(dir / "preprocessor_config.json") << "{not json";
  try {
    ProcessorConfig::load(dir);
    ADD_FAILURE() << "no error for bad JSON";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("preprocessor_config.json: not valid JSON"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smolvk
