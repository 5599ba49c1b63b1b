#include <gtest/gtest.h>

#include "loader/config.h"
#include "loader/error.h"
#include "loader/generation_config.h"
#include "tests/loader/test_safetensors_builder.h"

namespace smolvk {
namespace {

using nlohmann::json;

// Shaped like SmolVLM-256M-Instruct's hub config.json (transformers 4.x layout).
json smolvlm_256m_config() {
  return json::parse(R"({
    "architectures": ["Idefics3ForConditionalGeneration"],
    "model_type": "idefics3",
    "image_token_id": 49190,
    "scale_factor": 4,
    "torch_dtype": "bfloat16",
    "tie_word_embeddings": false,
    "use_resampler": false,
    "perceiver_config": {"model_type": "vllama3"},
    "text_config": {
      "architectures": ["VLlama3ForCausalLM"],
      "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
      "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
      "head_dim": 64, "vocab_size": 49280, "rms_norm_eps": 1e-05, "rope_theta": 100000,
      "rope_scaling": null, "max_position_embeddings": 8192, "tie_word_embeddings": false,
      "qk_layer_norms": false
    },
    "vision_config": {
      "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
      "num_attention_heads": 12, "image_size": 512, "patch_size": 16,
      "model_type": "idefics3_vision"
    }
  })");
}

std::string error_of(const json& j) {
  try {
    parse_model_config(j, "cfg.json");
  } catch (const LoadError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ModelConfig, Transformers4Layout) {
  auto c = parse_model_config(smolvlm_256m_config(), "cfg.json");
  EXPECT_EQ(c.architecture, Architecture::Idefics3);
  EXPECT_EQ(c.architecture_name, "Idefics3ForConditionalGeneration");
  EXPECT_EQ(c.model_type, "idefics3");
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.vision.hidden_size, 768);
  EXPECT_EQ(c.vision.intermediate_size, 3072);
  EXPECT_EQ(c.vision.num_hidden_layers, 12);
  EXPECT_EQ(c.vision.num_attention_heads, 12);
  EXPECT_EQ(c.vision.head_dim, 64);
  EXPECT_EQ(c.vision.image_size, 512);
  EXPECT_EQ(c.vision.patch_size, 16);
  EXPECT_EQ(c.vision.num_channels, 3);                  // default
  EXPECT_EQ(c.vision.layer_norm_eps, 1e-6);             // default
  EXPECT_EQ(c.vision.hidden_act, "gelu_pytorch_tanh");  // default
  EXPECT_EQ(c.text.hidden_size, 576);
  EXPECT_EQ(c.text.intermediate_size, 1536);
  EXPECT_EQ(c.text.num_hidden_layers, 30);
  EXPECT_EQ(c.text.num_attention_heads, 9);
  EXPECT_EQ(c.text.num_key_value_heads, 3);
  EXPECT_EQ(c.text.head_dim, 64);
  EXPECT_EQ(c.text.vocab_size, 49280);
  EXPECT_EQ(c.text.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.text.rope_theta, 100000.0);
  EXPECT_EQ(c.text.rope_scaling.kind, RopeKind::Default);
  EXPECT_EQ(c.text.max_position_embeddings, 8192);
  EXPECT_EQ(c.text.hidden_act, "silu");
  EXPECT_FALSE(c.tied_embeddings());
  EXPECT_EQ(c.scale_factor, 4);
  EXPECT_EQ(c.image_token_id, 49190);
  EXPECT_EQ(c.patches_per_side(), 32);
  EXPECT_EQ(c.image_seq_len(), 64);
}

TEST(ModelConfig, Transformers5RopeParameters) {
  auto j = smolvlm_256m_config();
  j["text_config"].erase("rope_theta");
  j["text_config"].erase("rope_scaling");
  j["text_config"]["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 273768.0}};
  j.erase("torch_dtype");
  j["dtype"] = "float32";
  auto c = parse_model_config(j, "cfg.json");
  EXPECT_EQ(c.text.rope_theta, 273768.0);
  EXPECT_EQ(c.text.rope_scaling.kind, RopeKind::Default);
  EXPECT_EQ(c.torch_dtype, "float32");
}

TEST(ModelConfig, Llama3RopeScalingBothLayouts) {
  auto j = smolvlm_256m_config();
  j["text_config"]["rope_theta"] = 500000.0;
  j["text_config"]["rope_scaling"] = {{"rope_type", "llama3"},
                                      {"factor", 8.0},
                                      {"low_freq_factor", 1.0},
                                      {"high_freq_factor", 4.0},
                                      {"original_max_position_embeddings", 8192}};
  auto c4 = parse_model_config(j, "cfg.json");
  j["text_config"]["rope_parameters"] = j["text_config"]["rope_scaling"];
  j["text_config"]["rope_parameters"]["rope_theta"] = 500000.0;
  j["text_config"].erase("rope_scaling");
  j["text_config"].erase("rope_theta");
  auto c5 = parse_model_config(j, "cfg.json");
  for (const auto& c : {c4, c5}) {
    EXPECT_EQ(c.text.rope_theta, 500000.0);
    EXPECT_EQ(c.text.rope_scaling.kind, RopeKind::Llama3);
    EXPECT_EQ(c.text.rope_scaling.factor, 8.0);
    EXPECT_EQ(c.text.rope_scaling.low_freq_factor, 1.0);
    EXPECT_EQ(c.text.rope_scaling.high_freq_factor, 4.0);
    EXPECT_EQ(c.text.rope_scaling.original_max_position_embeddings, 8192);
  }
}

TEST(ModelConfig, LegacyRopeScalingTypeKey) {
  auto j = smolvlm_256m_config();
  j["text_config"]["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  auto c = parse_model_config(j, "cfg.json");
  EXPECT_EQ(c.text.rope_scaling.kind, RopeKind::Linear);
  EXPECT_EQ(c.text.rope_scaling.factor, 2.0);
}

// SmolVLM2 configs omit vision keys: the SmolVLMVisionConfig defaults apply.
TEST(ModelConfig, EmptyVisionConfigTakesImageAndPatchDefaults) {
  json j = {{"model_type", "smolvlm"},
            {"scale_factor", 7},
            {"text_config", {{"hidden_size", 64}, {"num_attention_heads", 4}, {"vocab_size", 100}}},
            {"image_token_id", 99}};
  auto c = parse_model_config(j, "cfg.json");
  EXPECT_EQ(c.vision.image_size, 224);
  EXPECT_EQ(c.vision.patch_size, 32);
  EXPECT_EQ(c.image_seq_len(), 1);  // 7 × 7 patches / 7²
}

TEST(ModelConfig, MissingKeysTakeClassDefaults) {
  json j = {{"architectures", {"SmolVLMForConditionalGeneration"}},
            {"text_config", {{"hidden_size", 64}, {"num_attention_heads", 4}, {"vocab_size", 128300}}},
            {"vision_config", {{"image_size", 512}, {"patch_size", 16}}}};
  auto c = parse_model_config(j, "cfg.json");
  EXPECT_EQ(c.architecture, Architecture::SmolVLM);
  EXPECT_EQ(c.model_type, "smolvlm");
  EXPECT_EQ(c.vision.hidden_size, 1152);
  EXPECT_EQ(c.vision.intermediate_size, 3072);
  EXPECT_EQ(c.vision.num_hidden_layers, 12);
  EXPECT_EQ(c.vision.num_attention_heads, 16);
  EXPECT_EQ(c.vision.head_dim, 72);
  EXPECT_EQ(c.vision.layer_norm_eps, 1e-6);
  EXPECT_EQ(c.vision.hidden_act, "gelu_pytorch_tanh");
  EXPECT_EQ(c.scale_factor, 2);
  EXPECT_EQ(c.image_token_id, 128257);
  EXPECT_EQ(c.image_seq_len(), 256);  // 32 × 32 patches / 2²
}

TEST(ModelConfig, TextDefaultsAreLlamaConfig) {
  json j = {{"model_type", "idefics3"},
            {"vision_config", {{"image_size", 256}}},
            {"text_config", {{"model_type", "llama"}, {"vocab_size", 128259}}}};
  auto c = parse_model_config(j, "cfg.json");
  EXPECT_EQ(c.architecture, Architecture::Idefics3);
  EXPECT_EQ(c.text.hidden_size, 4096);
  EXPECT_EQ(c.text.intermediate_size, 11008);
  EXPECT_EQ(c.text.num_hidden_layers, 32);
  EXPECT_EQ(c.text.num_attention_heads, 32);
  EXPECT_EQ(c.text.num_key_value_heads, 32);  // = heads
  EXPECT_EQ(c.text.head_dim, 128);            // = hidden / heads
  EXPECT_EQ(c.text.max_position_embeddings, 2048);
  EXPECT_EQ(c.text.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.text.rope_theta, 10000.0);
  EXPECT_FALSE(c.text.tie_word_embeddings);
  EXPECT_EQ(c.patches_per_side(), 8);
  EXPECT_EQ(c.image_seq_len(), 16);
}

TEST(ModelConfig, AbsentTextConfigUsesRmsEps1e5) {
  json j = {{"model_type", "idefics3"},
            {"vision_config", {{"image_size", 256}}},
            {"text_config", nullptr},
            {"image_token_id", 5}};
  auto c = parse_model_config(j, "cfg.json");
  EXPECT_EQ(c.text.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.text.vocab_size, 32000);
}

TEST(ModelConfig, NullMeansDefaultAndDerivedValues) {
  auto j = smolvlm_256m_config();
  j["text_config"]["head_dim"] = nullptr;
  j["text_config"]["num_key_value_heads"] = nullptr;
  auto c = parse_model_config(j, "cfg.json");
  EXPECT_EQ(c.text.head_dim, 64);
  EXPECT_EQ(c.text.num_key_value_heads, 9);
}

// 384 / 14 leaves 6 pixels the conv never reads: a 27 × 27 grid, as transformers does.
TEST(ModelConfig, PatchRemainderIgnored) {
  auto j = smolvlm_256m_config();
  j["vision_config"]["image_size"] = 384;
  j["vision_config"]["patch_size"] = 14;
  j["scale_factor"] = 3;
  auto c = parse_model_config(j, "cfg.json");
  EXPECT_EQ(c.patches_per_side(), 27);
  EXPECT_EQ(c.image_seq_len(), 81);
}

TEST(ModelConfig, TiedEmbeddingsAtEitherLevel) {
  auto j = smolvlm_256m_config();
  j["tie_word_embeddings"] = true;
  EXPECT_TRUE(parse_model_config(j, "c").tied_embeddings());
  j["tie_word_embeddings"] = false;
  j["text_config"]["tie_word_embeddings"] = true;
  auto c = parse_model_config(j, "c");
  EXPECT_TRUE(c.tied_embeddings());
  EXPECT_TRUE(c.text.tie_word_embeddings);
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(ModelConfigErrors, UnknownArchitecture) {
  auto j = smolvlm_256m_config();
  j["architectures"] = {"LlavaForConditionalGeneration"};
  auto msg = error_of(j);
  EXPECT_NE(msg.find("cfg.json: architectures = [\"LlavaForConditionalGeneration\"]: unknown architecture"),
            std::string::npos)
      << msg;
  j.erase("architectures");
  j["model_type"] = "llava";
  EXPECT_NE(error_of(j).find("model_type = \"llava\": unknown model type"), std::string::npos);
}

TEST(ModelConfigErrors, MissingArchitectureAndModelType) {
  auto j = smolvlm_256m_config();
  j.erase("architectures");
  j.erase("model_type");
  EXPECT_NE(error_of(j).find("architectures is missing"), std::string::npos);
}

TEST(ModelConfigErrors, ArchitectureModelTypeMismatch) {
  auto j = smolvlm_256m_config();
  j["model_type"] = "smolvlm";
  EXPECT_NE(error_of(j).find("model_type = \"smolvlm\" does not match"), std::string::npos);
}

TEST(ModelConfigErrors, MissingRequiredRopeKey) {
  auto j = smolvlm_256m_config();
  j["text_config"]["rope_scaling"] = {
      {"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}};
  auto msg = error_of(j);
  EXPECT_NE(msg.find("text_config.rope_scaling.original_max_position_embeddings is missing"), std::string::npos) << msg;
}

TEST(ModelConfigErrors, UnsupportedRopeType) {
  auto j = smolvlm_256m_config();
  j["text_config"]["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 8.0}};
  EXPECT_NE(error_of(j).find("text_config.rope_scaling.rope_type = \"yarn\": unsupported"), std::string::npos);
}

TEST(ModelConfigErrors, WrongJsonType) {
  auto j = smolvlm_256m_config();
  j["text_config"]["hidden_size"] = "576";
  auto msg = error_of(j);
  EXPECT_NE(msg.find("cfg.json: text_config.hidden_size = \"576\": expected an integer"), std::string::npos) << msg;
  j = smolvlm_256m_config();
  j["vision_config"]["layer_norm_eps"] = true;
  EXPECT_NE(error_of(j).find("vision_config.layer_norm_eps = true: expected a number"), std::string::npos);
  j = smolvlm_256m_config();
  j["text_config"] = 3;
  EXPECT_NE(error_of(j).find("text_config = 3: expected an object"), std::string::npos);
  j = smolvlm_256m_config();
  j["tie_word_embeddings"] = "no";
  EXPECT_NE(error_of(j).find("tie_word_embeddings = \"no\": expected true or false"), std::string::npos);
  j = smolvlm_256m_config();
  j["vision_config"]["patch_size"] = 16.5;
  EXPECT_NE(error_of(j).find("vision_config.patch_size = 16.5: expected an integer"), std::string::npos);
  j = smolvlm_256m_config();
  j["text_config"]["vocab_size"] = uint64_t(1) << 63;
  EXPECT_NE(error_of(j).find("text_config.vocab_size = 9223372036854775808: expected an integer below 2^63"),
            std::string::npos);
  EXPECT_NE(error_of(json::array()).find("cfg.json: expected a JSON object"), std::string::npos);
}

TEST(ModelConfigErrors, NonPositiveSize) {
  auto j = smolvlm_256m_config();
  j["text_config"]["num_hidden_layers"] = 0;
  EXPECT_NE(error_of(j).find("text_config.num_hidden_layers = 0: expected a positive integer"), std::string::npos);
}

TEST(ModelConfigErrors, PatchLargerThanImage) {
  auto j = smolvlm_256m_config();
  j["vision_config"]["patch_size"] = 600;
  EXPECT_NE(error_of(j).find("vision_config.patch_size = 600 is larger than image_size = 512"), std::string::npos);
}

TEST(ModelConfigErrors, GridNotDivisibleByScale) {
  auto j = smolvlm_256m_config();
  j["scale_factor"] = 3;
  auto msg = error_of(j);
  EXPECT_NE(msg.find("scale_factor = 3 does not divide the patch grid side 32"), std::string::npos) << msg;
}

TEST(ModelConfigErrors, HeadsDoNotDivideHidden) {
  auto j = smolvlm_256m_config();
  j["vision_config"]["num_attention_heads"] = 7;
  EXPECT_NE(error_of(j).find("vision_config.num_attention_heads = 7 does not divide hidden_size = 768"),
            std::string::npos);
  j = smolvlm_256m_config();
  j["text_config"]["num_attention_heads"] = 7;
  EXPECT_NE(error_of(j).find("text_config.num_attention_heads = 7 does not divide hidden_size = 576"),
            std::string::npos);
}

TEST(ModelConfigErrors, KvHeadsDoNotDivideHeads) {
  auto j = smolvlm_256m_config();
  j["text_config"]["num_key_value_heads"] = 2;
  EXPECT_NE(error_of(j).find("text_config.num_key_value_heads = 2 does not divide num_attention_heads = 9"),
            std::string::npos);
}

TEST(ModelConfigErrors, ImageTokenOutsideVocab) {
  auto j = smolvlm_256m_config();
  j["image_token_id"] = 49280;
  EXPECT_NE(error_of(j).find("image_token_id = 49280 is outside the vocabulary [0, 49280)"), std::string::npos);
}

TEST(ModelConfigErrors, UnsupportedTextModel) {
  auto j = smolvlm_256m_config();
  j["text_config"]["model_type"] = "mistral";
  EXPECT_NE(error_of(j).find("text_config.model_type = \"mistral\": unsupported"), std::string::npos);
  j = smolvlm_256m_config();
  j["text_config"]["attention_bias"] = true;
  EXPECT_NE(error_of(j).find("text_config.attention_bias = true"), std::string::npos);
}

TEST(ModelConfigErrors, FileProblems) {
  test::TempDir dir;
  try {
    load_model_config(dir.path());
    FAIL();
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("config.json: cannot open"), std::string::npos) << e.what();
  }
  test::write_bytes(dir / "config.json", "{\"model_type\": ");
  try {
    load_model_config(dir.path());
    FAIL();
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("config.json: not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(GenerationConfig, ListAndScalarEos) {
  auto g = parse_generation_config(json::parse(R"({"bos_token_id": 0, "eos_token_id": 49279, "pad_token_id": 2})"),
                                   "g.json");
  EXPECT_TRUE(g.from_file);
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{49279}));
  EXPECT_EQ(g.bos_token_id, 0);
  EXPECT_EQ(g.pad_token_id, 2);
  EXPECT_FALSE(g.max_new_tokens.has_value());
  g = parse_generation_config(json::parse(R"({"eos_token_id": [128001, 128009], "pad_token_id": null})"), "g.json");
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{128001, 128009}));
  EXPECT_FALSE(g.bos_token_id.has_value());
  EXPECT_FALSE(g.pad_token_id.has_value());
}

TEST(GenerationConfig, OptionalFileAndErrors) {
  test::TempDir dir;
  auto g = load_generation_config(dir.path());
  EXPECT_FALSE(g.from_file);
  EXPECT_TRUE(g.eos_token_ids.empty());
  test::write_bytes(dir / "generation_config.json", R"({"eos_token_id": "x"})");
  try {
    load_generation_config(dir.path());
    FAIL();
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("generation_config.json: eos_token_id = \"x\": expected a token id"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace smolvk
