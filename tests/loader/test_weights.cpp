#include <gtest/gtest.h>

#include "loader/config.h"
#include "loader/error.h"
#include "loader/weights.h"
#include "tests/loader/test_safetensors_builder.h"

namespace smolvk {
namespace {

using nlohmann::json;
using test::SafetensorsBuilder;
using test::TempDir;
using Shape = std::vector<int64_t>;

// vision: hidden 8, inter 16, 1 layer, image 8 / patch 2 → 4 × 4 grid; scale 2;
// text: hidden 8, inter 12, 1 layer, 2 heads × 4, 1 kv head, vocab 10.
ModelConfig tiny_config(bool tied = false) {
  json j = {{"architectures", {"Idefics3ForConditionalGeneration"}},
            {"scale_factor", 2},
            {"image_token_id", 9},
            {"tie_word_embeddings", tied},
            {"vision_config",
             {{"hidden_size", 8},
              {"intermediate_size", 16},
              {"num_hidden_layers", 1},
              {"num_attention_heads", 2},
              {"image_size", 8},
              {"patch_size", 2}}},
            {"text_config",
             {{"hidden_size", 8},
              {"intermediate_size", 12},
              {"num_hidden_layers", 1},
              {"num_attention_heads", 2},
              {"num_key_value_heads", 1},
              {"head_dim", 4},
              {"vocab_size", 10},
              {"tie_word_embeddings", tied}}}};
  return parse_model_config(j, "tiny");
}

// Every tensor of the tiny model, names written out as transformers stores them.
std::vector<std::pair<std::string, Shape>> tiny_tensors(const std::string& prefix, bool with_lm_head = true) {
  std::vector<std::pair<std::string, Shape>> v = {
      {"vision_model.embeddings.patch_embedding.weight", {8, 3, 2, 2}},
      {"vision_model.embeddings.patch_embedding.bias", {8}},
      {"vision_model.embeddings.position_embedding.weight", {16, 8}},
      {"vision_model.post_layernorm.weight", {8}},
      {"vision_model.post_layernorm.bias", {8}},
      {"connector.modality_projection.proj.weight", {8, 32}},
      {"text_model.embed_tokens.weight", {10, 8}},
      {"text_model.norm.weight", {8}},
  };
  for (const char* p : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
    v.push_back({std::string("vision_model.encoder.layers.0.self_attn.") + p + ".weight", {8, 8}});
    v.push_back({std::string("vision_model.encoder.layers.0.self_attn.") + p + ".bias", {8}});
  }
  for (const char* n : {"layer_norm1", "layer_norm2"}) {
    v.push_back({std::string("vision_model.encoder.layers.0.") + n + ".weight", {8}});
    v.push_back({std::string("vision_model.encoder.layers.0.") + n + ".bias", {8}});
  }
  v.push_back({"vision_model.encoder.layers.0.mlp.fc1.weight", {16, 8}});
  v.push_back({"vision_model.encoder.layers.0.mlp.fc1.bias", {16}});
  v.push_back({"vision_model.encoder.layers.0.mlp.fc2.weight", {8, 16}});
  v.push_back({"vision_model.encoder.layers.0.mlp.fc2.bias", {8}});
  const std::string t = "text_model.layers.0.";
  v.push_back({t + "self_attn.q_proj.weight", {8, 8}});
  v.push_back({t + "self_attn.k_proj.weight", {4, 8}});
  v.push_back({t + "self_attn.v_proj.weight", {4, 8}});
  v.push_back({t + "self_attn.o_proj.weight", {8, 8}});
  v.push_back({t + "mlp.gate_proj.weight", {12, 8}});
  v.push_back({t + "mlp.up_proj.weight", {12, 8}});
  v.push_back({t + "mlp.down_proj.weight", {8, 12}});
  v.push_back({t + "input_layernorm.weight", {8}});
  v.push_back({t + "post_attention_layernorm.weight", {8}});
  for (auto& [name, shape] : v) name = prefix + name;
  if (with_lm_head) v.push_back({"lm_head.weight", {10, 8}});
  return v;
}

SafetensorsBuilder builder_for(const std::vector<std::pair<std::string, Shape>>& tensors) {
  SafetensorsBuilder b;
  for (const auto& [name, shape] : tensors) b.add(name, shape);
  return b;
}

std::string error_of(const ModelConfig& c, const SafeTensors& st) {
  try {
    map_weights(c, st);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Weights, BindsEveryParameterModelPrefix) {
  TempDir dir;
  builder_for(tiny_tensors("model.")).write(dir / "model.safetensors");
  auto st = SafeTensors::open(dir.path());
  auto w = map_weights(tiny_config(), st);
  EXPECT_EQ(w.prefix, "model.");
  EXPECT_EQ(w.vision.patch_embedding.weight, st.find("model.vision_model.embeddings.patch_embedding.weight"));
  EXPECT_EQ(w.vision.position_embedding->shape, (Shape{16, 8}));
  ASSERT_EQ(w.vision.layers.size(), 1u);
  EXPECT_EQ(w.vision.layers[0].fc1.bias, st.find("model.vision_model.encoder.layers.0.mlp.fc1.bias"));
  EXPECT_EQ(w.vision.layers[0].out_proj.weight,
            st.find("model.vision_model.encoder.layers.0.self_attn.out_proj.weight"));
  EXPECT_EQ(w.vision.post_layernorm.bias, st.find("model.vision_model.post_layernorm.bias"));
  EXPECT_EQ(w.connector_proj.weight->shape, (Shape{8, 32}));
  EXPECT_EQ(w.connector_proj.bias, nullptr);
  ASSERT_EQ(w.text.layers.size(), 1u);
  EXPECT_EQ(w.text.layers[0].k_proj.weight, st.find("model.text_model.layers.0.self_attn.k_proj.weight"));
  EXPECT_EQ(w.text.layers[0].k_proj.bias, nullptr);
  EXPECT_EQ(w.text.layers[0].post_attention_layernorm.weight,
            st.find("model.text_model.layers.0.post_attention_layernorm.weight"));
  EXPECT_EQ(w.text.norm.weight, st.find("model.text_model.norm.weight"));
  EXPECT_EQ(w.text.lm_head, st.find("lm_head.weight"));
  EXPECT_FALSE(w.text.lm_head_tied);
}

TEST(Weights, BindsUnprefixedLayout) {
  TempDir dir;
  builder_for(tiny_tensors("")).write(dir / "model.safetensors");
  auto st = SafeTensors::open(dir.path());
  auto w = map_weights(tiny_config(), st);
  EXPECT_EQ(w.prefix, "");
  EXPECT_EQ(w.text.embed_tokens, st.find("text_model.embed_tokens.weight"));
}

TEST(Weights, TiedEmbeddingsUseEmbedForLmHead) {
  TempDir dir;
  builder_for(tiny_tensors("model.", false)).write(dir / "model.safetensors");
  auto st = SafeTensors::open(dir.path());
  auto w = map_weights(tiny_config(true), st);
  EXPECT_TRUE(w.text.lm_head_tied);
  EXPECT_EQ(w.text.lm_head, w.text.embed_tokens);
  EXPECT_EQ(w.text.lm_head, st.find("model.text_model.embed_tokens.weight"));
}

TEST(Weights, UntiedWithoutLmHeadIsMissing) {
  TempDir dir;
  builder_for(tiny_tensors("model.", false)).write(dir / "model.safetensors");
  auto msg = error_of(tiny_config(false), SafeTensors::open(dir.path()));
  EXPECT_NE(msg.find("1 missing, 0 wrong shape or dtype, 0 unused"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing: lm_head.weight, expected [10, 8]"), std::string::npos) << msg;
}

TEST(Weights, MissingWrongAndExtraListedTogether) {
  TempDir dir;
  auto tensors = tiny_tensors("model.");
  std::erase_if(tensors, [](const auto& t) { return t.first == "model.text_model.layers.0.mlp.up_proj.weight"; });
  for (auto& [name, shape] : tensors)
    if (name == "model.vision_model.embeddings.position_embedding.weight") shape = {15, 8};
  tensors.push_back({"model.text_model.layers.1.mlp.up_proj.weight", {12, 8}});
  builder_for(tensors).write(dir / "model.safetensors");
  auto msg = error_of(tiny_config(), SafeTensors::open(dir.path()));
  EXPECT_NE(msg.find("1 missing, 1 wrong shape or dtype, 1 unused"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing: model.text_model.layers.0.mlp.up_proj.weight, expected [12, 8]"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("wrong: model.vision_model.embeddings.position_embedding.weight, expected [16, 8], found [15, 8]"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("unused: model.text_model.layers.1.mlp.up_proj.weight [12, 8]"), std::string::npos) << msg;
}

TEST(Weights, IntegerDTypeRejected) {
  TempDir dir;
  SafetensorsBuilder b;
  for (const auto& [name, shape] : tiny_tensors("model."))
    b.add(name, shape, name == "model.text_model.norm.weight" ? "I32" : "BF16");
  b.write(dir / "model.safetensors");
  auto msg = error_of(tiny_config(), SafeTensors::open(dir.path()));
  EXPECT_NE(msg.find("wrong: model.text_model.norm.weight, dtype I32, expected F32, F16 or BF16"), std::string::npos)
      << msg;
}

TEST(Weights, MixedLayoutsReportTheStrays) {
  TempDir dir;
  auto tensors = tiny_tensors("model.");
  tensors.push_back({"text_model.norm.weight", {8}});
  builder_for(tensors).write(dir / "model.safetensors");
  auto msg = error_of(tiny_config(), SafeTensors::open(dir.path()));
  EXPECT_NE(msg.find("unused: text_model.norm.weight [8]"), std::string::npos) << msg;
}

TEST(Weights, ForeignCheckpointMessageIsCapped) {
  TempDir dir;
  SafetensorsBuilder b;
  for (int i = 0; i < 100; ++i) b.add("language_model.layers." + std::to_string(i) + ".w", {1});
  b.write(dir / "model.safetensors");
  auto msg = error_of(tiny_config(), SafeTensors::open(dir.path()));
  EXPECT_NE(msg.find("... and 60 more unused tensors"), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 12000u);
}

}  // namespace
}  // namespace smolvk
