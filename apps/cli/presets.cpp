// Each preset is written as the checkpoint's config.json (hub values, see
// shared/smolvlm-reference.md) and read by the same parser as a real checkpoint, so derived
// values (head_dim, image_seq_len) and validation are the loader's.
#include "apps/cli/presets.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace smolvk {
namespace {

using nlohmann::json;

struct Preset {
  const char* name;
  json config;
};

json vision(int hidden, int inter, int layers, int heads, int image, int patch) {
  return {{"hidden_size", hidden},
          {"intermediate_size", inter},
          {"num_hidden_layers", layers},
          {"num_attention_heads", heads},
          {"image_size", image},
          {"patch_size", patch},
          {"num_channels", 3},
          {"layer_norm_eps", 1e-6},
          {"hidden_act", "gelu_pytorch_tanh"}};
}

json text(int hidden, int inter, int layers, int heads, int kv, int vocab, double theta, int max_pos) {
  return {{"model_type", "llama"},       {"hidden_size", hidden},        {"intermediate_size", inter},
          {"num_hidden_layers", layers}, {"num_attention_heads", heads}, {"num_key_value_heads", kv},
          {"vocab_size", vocab},         {"rope_theta", theta},          {"max_position_embeddings", max_pos},
          {"rms_norm_eps", 1e-5},        {"hidden_act", "silu"},         {"tie_word_embeddings", false}};
}

json model(json v, json t, int scale, int image_token_id, bool smolvlm = false) {
  return {{"architectures", {smolvlm ? "SmolVLMForConditionalGeneration" : "Idefics3ForConditionalGeneration"}},
          {"model_type", smolvlm ? "smolvlm" : "idefics3"},
          {"vision_config", std::move(v)},
          {"text_config", std::move(t)},
          {"scale_factor", scale},
          {"image_token_id", image_token_id},
          {"tie_word_embeddings", false}};
}

// Llama-3.1's RoPE scaling (Idefics3-8B-Llama3 is built on Llama-3.1-8B-Instruct).
json with_llama3_rope(json t) {
  t["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  return t;
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> p = {
      // Small enough for lavapipe tests: 4×4 patches, 4 image tokens per tile.
      {"tiny", model(vision(32, 64, 2, 2, 32, 8), text(64, 128, 2, 4, 2, 320, 1e5, 2048), 2, 300)},
      {"256m", model(vision(768, 3072, 12, 12, 512, 16), text(576, 1536, 30, 9, 3, 49280, 1e5, 8192), 4, 49190)},
      {"500m", model(vision(768, 3072, 12, 12, 512, 16), text(960, 2560, 32, 15, 5, 49280, 1e5, 8192), 4, 49190)},
      {"2.2b",
       model(vision(1152, 4304, 27, 16, 384, 14), text(2048, 8192, 24, 32, 32, 49155, 273768, 16384), 3, 49153)},
      // SmolVLM2-2.2B-Instruct: SmolVLM-Instruct's shapes with SmolVLM2's 49280-token vocabulary.
      {"smolvlm2-2.2b", model(vision(1152, 4304, 27, 16, 384, 14),
                              text(2048, 8192, 24, 32, 32, 49280, 273768, 16384), 3, 49190, true)},
      // Idefics3-8B-Llama3: SigLIP-so400m at 364 px (26x26 patches, 169 tokens a tile), Llama-3.1-8B.
      {"8b", model(vision(1152, 4304, 27, 16, 364, 14),
                   with_llama3_rope(text(4096, 14336, 32, 32, 8, 128259, 500000, 131072)), 2, 128257)},
  };
  return p;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& p : presets()) names.emplace_back(p.name);
  return names;
}

ModelConfig preset_config(std::string_view name) {
  const std::string key = lower(name);
  for (const auto& p : presets())
    if (key == p.name) return parse_model_config(p.config, std::string("preset ") + p.name);
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown model shape '" + std::string(name) + "' (expected one of " + known + ")");
}

}  // namespace smolvk
