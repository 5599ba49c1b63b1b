// Model shapes by name and Model::random (in process, on the shared test context).
#include <gtest/gtest.h>

#include <stdexcept>

#include "apps/cli/presets.h"
#include "model/smolvlm.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

// Every tensor of the checkpoint layout (q/k/v and gate/up counted unfused).
uint64_t expected_parameters(const ModelConfig& c) {
  const auto& v = c.vision;
  const uint64_t H = v.hidden_size, I = v.intermediate_size;
  uint64_t n = H * v.num_channels * v.patch_size * v.patch_size + H + v.num_patches() * H;
  n += v.num_hidden_layers * (4 * (H * H + H) + 2 * (2 * H) + (I * H + I) + (H * I + H));
  n += 2 * H + c.text.hidden_size * H * c.scale_factor * c.scale_factor;
  const auto& t = c.text;
  const uint64_t D = t.hidden_size, q = t.num_attention_heads * t.head_dim, kv = t.num_key_value_heads * t.head_dim;
  n += t.vocab_size * D * (c.tied_embeddings() ? 1 : 2) + D;
  n += t.num_hidden_layers * (D * (q + 2 * kv) + q * D + 2 * D + 3 * D * t.intermediate_size);
  return n;
}

TEST(BenchPresets, PublishedShapesMatchTheReferenceTable) {
  const ModelConfig m256 = preset_config("256m");
  EXPECT_EQ(m256.vision.hidden_size, 768);
  EXPECT_EQ(m256.vision.image_size, 512);
  EXPECT_EQ(m256.text.hidden_size, 576);
  EXPECT_EQ(m256.text.num_hidden_layers, 30);
  EXPECT_EQ(m256.text.num_key_value_heads, 3);
  EXPECT_EQ(m256.text.head_dim, 64);
  EXPECT_EQ(m256.image_seq_len(), 64);
  EXPECT_EQ(m256.image_token_id, 49190);
  // SmolVLM-256M-Instruct has 256.5 M parameters (shared/baselines.md).
  EXPECT_NEAR(double(expected_parameters(m256)) / 1e6, 256.5, 0.1);

  const ModelConfig m500 = preset_config("500M");
  EXPECT_EQ(m500.text.hidden_size, 960);
  EXPECT_EQ(m500.text.num_attention_heads, 15);

  const ModelConfig m22 = preset_config("2.2B");
  EXPECT_EQ(m22.vision.patches_per_side(), 27);
  EXPECT_EQ(m22.image_seq_len(), 81);
  EXPECT_EQ(m22.text.vocab_size, 49155);
  EXPECT_DOUBLE_EQ(m22.text.rope_theta, 273768.0);

  // SmolVLM2-2.2B-Instruct: 8.99 GB of float32 weights on the hub = 2.247 B parameters.
  const ModelConfig s22 = preset_config("SmolVLM2-2.2B");
  EXPECT_EQ(s22.architecture, Architecture::SmolVLM);
  EXPECT_EQ(s22.image_seq_len(), 81);
  EXPECT_EQ(s22.text.vocab_size, 49280);
  EXPECT_EQ(s22.image_token_id, 49190);
  EXPECT_NEAR(double(expected_parameters(s22)) / 1e9, 2.2468, 0.0001);

  // Idefics3-8B-Llama3: 16.93 GB of bf16 weights on the hub = 8.462 B parameters.
  const ModelConfig m8 = preset_config("8B");
  EXPECT_EQ(m8.architecture, Architecture::Idefics3);
  EXPECT_EQ(m8.vision.patches_per_side(), 26);
  EXPECT_EQ(m8.image_seq_len(), 169);
  EXPECT_EQ(m8.text.head_dim, 128);
  EXPECT_EQ(m8.text.num_key_value_heads, 8);
  EXPECT_EQ(m8.text.vocab_size, 128259);
  EXPECT_EQ(m8.image_token_id, 128257);
  EXPECT_DOUBLE_EQ(m8.text.rope_theta, 500000.0);
  EXPECT_EQ(m8.text.rope_scaling.kind, RopeKind::Llama3);
  EXPECT_DOUBLE_EQ(m8.text.rope_scaling.factor, 8.0);
  EXPECT_EQ(m8.text.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_NEAR(double(expected_parameters(m8)) / 1e9, 8.4621, 0.0001);
}

TEST(BenchPresets, UnknownNameIsRejectedWithTheKnownNames) {
  try {
    preset_config("7b");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'7b'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2.2b"), std::string::npos) << e.what();
  }
}

TEST(RandomModel, HasEveryParameterAndGeneratesDeterministically) {
  Context& ctx = test::context();
  const ModelConfig c = preset_config("tiny");
  auto a = Model::random(ctx, c, DType::BF16, 7);
  EXPECT_EQ(a->parameter_count(), expected_parameters(c));
  EXPECT_EQ(a->weight_bytes(), 2 * expected_parameters(c));
  EXPECT_EQ(a->tokenizer().token_to_id("<image>"), int32_t(c.image_token_id));
  EXPECT_EQ(a->tokenizer().encode("hi").size(), 2u);  // one token per byte

  Request r;
  r.prompt_ids = {5, 6, 7};
  r.prompt_ids.insert(r.prompt_ids.end(), size_t(c.image_seq_len()), int32_t(c.image_token_id));
  const int side = int(c.vision.image_size);
  r.tile_height = r.tile_width = side;
  r.pixel_values.assign(size_t(3 * side * side), 0.25f);
  r.pixel_mask.assign(size_t(side * side), 1);
  GenerateOptions g;
  g.max_new_tokens = 4;
  g.ignore_eos = true;
  const Result first = a->generate(r, g);
  ASSERT_EQ(first.output_ids.size(), 4u);
  for (int32_t id : first.output_ids) EXPECT_LT(id, c.text.vocab_size);
  auto b = Model::random(ctx, c, DType::BF16, 7);
  EXPECT_EQ(b->generate(r, g).output_ids, first.output_ids);
}

TEST(RandomModel, RejectsANonFloatDtypeAndATinyVocabulary) {
  Context& ctx = test::context();
  ModelConfig c = preset_config("tiny");
  EXPECT_THROW(Model::random(ctx, c, DType::I32), std::invalid_argument);
  c.text.vocab_size = 200;
  c.image_token_id = 100;
  try {
    Model::random(ctx, c, DType::F32);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("vocab_size 200"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace smolvk
