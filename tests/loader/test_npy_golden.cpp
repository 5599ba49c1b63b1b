// The transformers fixtures' .npy files (written by numpy) read back with the shapes and
// dtypes golden.json states.
#include <gtest/gtest.h>

#include <fstream>

#include "loader/config.h"
#include "loader/npy.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;

class FixtureNpy : public testing::TestWithParam<const char*> {};

TEST_P(FixtureNpy, GoldenArraysMatchStatedShapes) {
  fs::path dir = test::data_dir() / GetParam();
  ASSERT_TRUE(fs::exists(dir / "golden" / "golden.json")) << dir / "golden" / "golden.json"
                                                          << " is missing";
  auto config = load_model_config(dir);
  std::ifstream in(dir / "golden" / "golden.json");
  auto golden = nlohmann::json::parse(in);
  size_t arrays = 0;
  for (const auto& r : golden["requests"]) {
    SCOPED_TRACE(r["name"].get<std::string>());
    for (const char* key : {"pixel_values", "vision_out", "connector_out", "inputs_embeds"}) {
      if (!r.contains(key) || r[key].is_null()) continue;  // text-only requests have no images
      auto a = read_npy(dir / "golden" / r[key].get<std::string>());
      EXPECT_EQ(a.dtype, NpyDType::F32) << key;
      EXPECT_EQ(a.shape, r[std::string(key) + "_shape"].get<std::vector<int64_t>>()) << key;
      EXPECT_EQ(a.floats.size(), a.numel()) << key;
      ++arrays;
    }
    auto logits = read_npy(dir / "golden" / r["logits_last"].get<std::string>());
    EXPECT_EQ(logits.shape.size(), 2u);
    EXPECT_EQ(logits.shape.back(), config.text.vocab_size);
    ++arrays;
    if (r["pixel_values"].is_null()) continue;
    auto pv = read_npy(dir / "golden" / r["pixel_values"].get<std::string>());
    auto mask = read_npy(dir / "golden" / r["pixel_attention_mask"].get<std::string>());
    EXPECT_EQ(mask.dtype, NpyDType::U8);
    ASSERT_EQ(pv.shape.size(), 5u);
    EXPECT_EQ(pv.shape[2], config.vision.num_channels);
    EXPECT_EQ(mask.shape, (std::vector<int64_t>{pv.shape[0], pv.shape[1], pv.shape[3], pv.shape[4]}));
    for (auto v : mask.ints) ASSERT_TRUE(v == 0 || v == 1);
    EXPECT_EQ(logits.shape[0], pv.shape[0]);
    arrays += 2;
  }
  EXPECT_GT(arrays, 0u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureNpy,
                         testing::Values("idefics3_f32", "smolvlm_bf16", "smolvlm_f32_s3", "../../examples/demo-model"),
                         [](const auto& info) {
                           std::string n = fs::path(info.param).filename().string();
                           std::erase(n, '-');
                           return n;
                         });

}  // namespace
}  // namespace smolvk
