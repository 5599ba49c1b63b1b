// Copied by value from transformers' configuration_idefics3.py, configuration_smolvlm.py and
// configuration_llama.py. null marks a value derived from others when the key is missing.
#include "loader/config_defaults.h"

namespace smolvk::config_defaults {

const nlohmann::json& vision() {
  static const nlohmann::json t = {
      {"hidden_size", 1152},     {"intermediate_size", 3072},
      {"num_hidden_layers", 12}, {"num_attention_heads", 16},
      {"num_channels", 3},       {"image_size", 224},
      {"patch_size", 32},        {"hidden_act", "gelu_pytorch_tanh"},
      {"layer_norm_eps", 1e-6},
  };
  return t;
}

const nlohmann::json& text() {
  static const nlohmann::json t = {
      {"model_type", "llama"},
      {"vocab_size", 32000},
      {"hidden_size", 4096},
      {"intermediate_size", 11008},
      {"num_hidden_layers", 32},
      {"num_attention_heads", 32},
      {"num_key_value_heads", nullptr},  // = num_attention_heads
      {"head_dim", nullptr},             // = hidden_size / num_attention_heads
      {"hidden_act", "silu"},
      {"max_position_embeddings", 2048},
      {"rms_norm_eps", 1e-6},
      {"rope_theta", 10000.0},
      {"tie_word_embeddings", false},
      {"attention_bias", false},
      {"mlp_bias", false},
  };
  return t;
}

const nlohmann::json& top() {
  static const nlohmann::json t = {
      {"scale_factor", 2},
      {"image_token_id", 128257},
      {"tie_word_embeddings", false},
  };
  return t;
}

const nlohmann::json& text_when_absent() {
  static const nlohmann::json t = {{"rms_norm_eps", 1e-5}, {"tie_word_embeddings", false}};
  return t;
}

}  // namespace smolvk::config_defaults
