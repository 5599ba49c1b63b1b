#pragma once
// config.json of a SmolVLM / Idefics3 checkpoint as typed structs. Keys missing from the
// file take transformers' defaults for the config class (config_defaults.cpp).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace smolvk {

enum class Architecture { Idefics3, SmolVLM };

struct VisionConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads
  int64_t image_size = 0;
  int64_t patch_size = 0;
  int64_t num_channels = 0;
  double layer_norm_eps = 0;
  std::string hidden_act;
  // (image_size / patch_size); a remainder of pixels is ignored by the conv (384/14 → 27).
  int64_t patches_per_side() const { return image_size / patch_size; }
  int64_t num_patches() const { return patches_per_side() * patches_per_side(); }
};

enum class RopeKind { Default, Linear, Llama3 };

struct RopeScaling {
  RopeKind kind = RopeKind::Default;
  double factor = 1.0;
  // llama3 only
  double low_freq_factor = 1.0;
  double high_freq_factor = 1.0;
  int64_t original_max_position_embeddings = 0;
};

struct TextConfig {
  std::string model_type;  // always "llama" today
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  double rms_norm_eps = 0;
  double rope_theta = 0;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  std::string hidden_act;
  RopeScaling rope_scaling;  // kind Default when the config has none
};

struct ModelConfig {
  Architecture architecture = Architecture::Idefics3;
  std::string architecture_name;  // e.g. "Idefics3ForConditionalGeneration"
  std::string model_type;         // "idefics3" or "smolvlm"
  std::string torch_dtype;        // as written ("float32", "bfloat16", ...); empty if absent
  VisionConfig vision;
  TextConfig text;
  int64_t scale_factor = 0;
  int64_t image_token_id = 0;
  bool tie_word_embeddings = false;  // the top-level key

  int64_t patches_per_side() const { return vision.patches_per_side(); }
  // Visual tokens per tile after the connector's pixel shuffle.
  int64_t image_seq_len() const { return vision.num_patches() / (scale_factor * scale_factor); }
  // lm_head shares the embedding matrix when either level asks for it.
  bool tied_embeddings() const { return tie_word_embeddings || text.tie_word_embeddings; }
};

// Reads dir/config.json. Throws LoadError naming the file, key and value on any problem.
ModelConfig load_model_config(const std::filesystem::path& dir);
// source_name is used in error messages (normally the file path).
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source_name);

}  // namespace smolvk
