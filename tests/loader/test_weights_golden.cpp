// Parity with the transformers-written fixtures in tests/data/<case>/ (skipped until present).
#include <gtest/gtest.h>

#include <fstream>

#include "loader/config.h"
#include "loader/generation_config.h"
#include "loader/weights.h"
#include "tests/loader/golden_util.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;

struct FixtureCase {
  const char* name;
  const char* rope_layout;  // "rope_parameters" (transformers 5.x) or "rope_theta" (4.x)
  bool tied;
  bool sharded;
  TensorDType dtype;
  int64_t scale_factor, image_size, patch_size;
};

constexpr FixtureCase kCases[] = {
    {"idefics3_f32", "rope_parameters", false, false, TensorDType::F32, 2, 32, 4},
    {"smolvlm_bf16", "rope_theta", true, true, TensorDType::BF16, 4, 64, 4},
    {"smolvlm_f32_s3", "rope_parameters", false, false, TensorDType::F32, 3, 36, 4},
};

class FixtureWeights : public testing::TestWithParam<FixtureCase> {
 protected:
  fs::path dir() const { return test::data_dir() / GetParam().name; }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(dir() / "config.json")) << dir() / "config.json"
                                                   << " is missing";
  }
};

TEST_P(FixtureWeights, ConfigFields) {
  const auto& fc = GetParam();
  auto c = load_model_config(dir());
  auto raw = test::read_json(dir() / "config.json");
  EXPECT_EQ(c.scale_factor, fc.scale_factor);
  EXPECT_EQ(c.vision.image_size, fc.image_size);
  EXPECT_EQ(c.vision.patch_size, fc.patch_size);
  EXPECT_EQ(c.image_seq_len(),
            (fc.image_size / fc.patch_size) * (fc.image_size / fc.patch_size) / (fc.scale_factor * fc.scale_factor));
  EXPECT_EQ(c.tied_embeddings(), fc.tied);
  const auto& tc = raw["text_config"];
  if (std::string(fc.rope_layout) == "rope_parameters") {
    ASSERT_TRUE(tc.contains("rope_parameters"));
    EXPECT_EQ(c.text.rope_theta, tc["rope_parameters"]["rope_theta"].get<double>());
  } else if (std::string(fc.rope_layout) == "rope_theta") {
    ASSERT_TRUE(tc.contains("rope_theta"));
    EXPECT_EQ(c.text.rope_theta, tc["rope_theta"].get<double>());
  }
  EXPECT_EQ(c.text.hidden_size, tc["hidden_size"].get<int64_t>());
  EXPECT_EQ(c.text.vocab_size, tc["vocab_size"].get<int64_t>());
  EXPECT_EQ(c.image_token_id, raw["image_token_id"].get<int64_t>());

  // What the fixture generator recorded about the checkpoint it wrote.
  auto golden = dir() / "golden" / "golden.json";
  if (fs::exists(golden)) {
    auto g = test::read_json(golden);
    EXPECT_EQ(c.architecture_name, g["architecture"].get<std::string>());
    EXPECT_EQ(c.tied_embeddings(), g["tie_word_embeddings"].get<bool>());
    EXPECT_EQ(c.image_seq_len(), g["image_seq_len"].get<int64_t>());
    EXPECT_EQ(g["config_layout"].get<std::string>(), std::string(fc.rope_layout) == "rope_parameters" ? "5.x" : "4.x");
    for (const auto& r : g["requests"]) {
      if (r.contains("image_seq_len")) {
        EXPECT_EQ(c.image_seq_len(), r["image_seq_len"].get<int64_t>()) << r["name"];
      }
    }
  }
  EXPECT_NO_THROW(load_generation_config(dir()));
}

TEST_P(FixtureWeights, AllTensorsLocated) {
  const auto& fc = GetParam();
  auto c = load_model_config(dir());
  auto st = SafeTensors::open(dir());
  EXPECT_EQ(st.files().size() > 1, fc.sharded);
  WeightSet w = map_weights(c, st);  // throws on any missing / unused / wrongly shaped tensor
  const auto& v = c.vision;
  const auto& t = c.text;
  size_t expected = size_t(3 + 16 * v.num_hidden_layers + 2 + 1 + 1 + 9 * t.num_hidden_layers + 1) + (fc.tied ? 0 : 1);
  EXPECT_EQ(st.size(), expected);
  EXPECT_EQ(w.vision.layers.size(), size_t(v.num_hidden_layers));
  EXPECT_EQ(w.text.layers.size(), size_t(t.num_hidden_layers));
  EXPECT_EQ(w.text.lm_head_tied, fc.tied);
  if (fc.tied) {
    EXPECT_EQ(w.text.lm_head, w.text.embed_tokens);
  }
  for (const auto& name : st.names()) EXPECT_EQ(st.at(name).dtype, fc.dtype) << name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureWeights, testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(FixtureWeightsDemo, DemoModelLoads) {
  auto dir = test::data_dir().parent_path().parent_path() / "examples" / "demo-model";
  ASSERT_TRUE(fs::exists(dir / "config.json")) << dir / "config.json"
                                               << " is missing";
  auto c = load_model_config(dir);
  auto st = SafeTensors::open(dir);
  auto w = map_weights(c, st);
  EXPECT_EQ(w.text.layers.size(), size_t(c.text.num_hidden_layers));
}

}  // namespace
}  // namespace smolvk
