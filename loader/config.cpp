#include "loader/config.h"

#include <array>

#include "loader/config_defaults.h"
#include "loader/config_json.h"
#include "loader/error.h"

namespace smolvk {
namespace {

struct KnownArchitecture {
  const char* name;
  const char* model_type;
  Architecture arch;
};
constexpr std::array kArchitectures = {
    KnownArchitecture{"Idefics3ForConditionalGeneration", "idefics3", Architecture::Idefics3},
    KnownArchitecture{"SmolVLMForConditionalGeneration", "smolvlm", Architecture::SmolVLM},
};

std::string known_architecture_list() {
  std::string s;
  for (const auto& a : kArchitectures) s += (s.empty() ? "" : " or ") + std::string(a.name);
  return s;
}

void read_architecture(const ConfigObject& top, ModelConfig& c) {
  const KnownArchitecture* by_name = nullptr;
  if (const auto* archs = top.find("architectures")) {
    if (!archs->is_array() || archs->empty())
      top.fail("architectures", "= " + archs->dump() + ": expected a non-empty list of names");
    for (const auto& a : *archs) {
      if (!a.is_string()) top.fail("architectures", "= " + archs->dump() + ": expected a list of strings");
      for (const auto& k : kArchitectures)
        if (a.get<std::string>() == k.name && !by_name) by_name = &k;
    }
    if (!by_name)
      top.fail("architectures", "= " + archs->dump() + ": unknown architecture, expected " + known_architecture_list());
  }
  const KnownArchitecture* by_type = nullptr;
  if (top.has("model_type")) {
    std::string mt = top.string("model_type");
    for (const auto& k : kArchitectures)
      if (mt == k.model_type) by_type = &k;
    if (!by_type) top.fail("model_type", "= \"" + mt + "\": unknown model type, expected idefics3 or smolvlm");
  }
  if (!by_name && !by_type) top.fail("architectures", "is missing (required key, as is model_type)");
  if (by_name && by_type && by_name != by_type)
    top.fail("model_type", "= \"" + std::string(by_type->model_type) + "\" does not match architectures " +
                               by_name->name + " (expected \"" + by_name->model_type + "\")");
  const auto* k = by_name ? by_name : by_type;
  c.architecture = k->arch;
  c.architecture_name = k->name;
  c.model_type = k->model_type;
}

VisionConfig read_vision(const ConfigObject& v) {
  VisionConfig c;
  c.hidden_size = v.positive("hidden_size");
  c.intermediate_size = v.positive("intermediate_size");
  c.num_hidden_layers = v.positive("num_hidden_layers");
  c.num_attention_heads = v.positive("num_attention_heads");
  c.num_channels = v.positive("num_channels");
  c.image_size = v.positive("image_size");
  c.patch_size = v.positive("patch_size");
  c.layer_norm_eps = v.number("layer_norm_eps");
  c.hidden_act = v.string("hidden_act");
  if (c.hidden_size % c.num_attention_heads != 0)
    v.fail("num_attention_heads", "= " + std::to_string(c.num_attention_heads) +
                                      " does not divide hidden_size = " + std::to_string(c.hidden_size));
  c.head_dim = c.hidden_size / c.num_attention_heads;
  // A remainder is allowed (SmolVLM-Instruct: 384 / 14 → 27 patches, 6 px unused).
  if (c.patch_size > c.image_size)
    v.fail("patch_size",
           "= " + std::to_string(c.patch_size) + " is larger than image_size = " + std::to_string(c.image_size));
  if (!(c.layer_norm_eps > 0))
    v.fail("layer_norm_eps", "= " + std::to_string(c.layer_norm_eps) + ": expected a positive number");
  return c;
}

RopeScaling read_rope_scaling(const ConfigObject& r) {
  RopeScaling s;
  std::string type_key = r.has("rope_type") ? "rope_type" : "type";
  std::string type = r.has(type_key) ? r.string(type_key) : "default";
  if (type == "default") return s;
  if (type == "linear") {
    s.kind = RopeKind::Linear;
  } else if (type == "llama3") {
    s.kind = RopeKind::Llama3;
    s.low_freq_factor = r.number("low_freq_factor");
    s.high_freq_factor = r.number("high_freq_factor");
    s.original_max_position_embeddings = r.positive("original_max_position_embeddings");
    if (!(s.high_freq_factor > s.low_freq_factor))
      r.fail("high_freq_factor", "= " + std::to_string(s.high_freq_factor) +
                                     ": expected more than low_freq_factor = " + std::to_string(s.low_freq_factor));
  } else {
    r.fail(type_key, "= \"" + type + "\": unsupported RoPE type, expected default, linear or llama3");
  }
  s.factor = r.number("factor");
  if (!(s.factor > 0)) r.fail("factor", "= " + std::to_string(s.factor) + ": expected a positive number");
  return s;
}

// 5.x: text_config.rope_parameters {rope_type, rope_theta, ...};
// 4.x: text_config.rope_theta + text_config.rope_scaling {rope_type|type, ...}.
void read_rope(const ConfigObject& t, TextConfig& c) {
  if (const auto* rp = t.object("rope_parameters")) {
    ConfigObject r(*rp, nullptr, t.source(), t.key_path("rope_parameters."));
    c.rope_theta = r.has("rope_theta") ? r.number("rope_theta") : t.number("rope_theta");
    c.rope_scaling = read_rope_scaling(r);
    if (!(c.rope_theta > 0)) r.fail("rope_theta", "= " + std::to_string(c.rope_theta) + ": expected a positive number");
    return;
  }
  c.rope_theta = t.number("rope_theta");
  if (!(c.rope_theta > 0)) t.fail("rope_theta", "= " + std::to_string(c.rope_theta) + ": expected a positive number");
  if (const auto* rs = t.object("rope_scaling"))
    c.rope_scaling = read_rope_scaling(ConfigObject(*rs, nullptr, t.source(), t.key_path("rope_scaling.")));
}

TextConfig read_text(const ConfigObject& t) {
  TextConfig c;
  c.model_type = t.string("model_type");
  if (c.model_type != "llama")
    t.fail("model_type", "= \"" + c.model_type + "\": unsupported text model, expected \"llama\"");
  c.hidden_size = t.positive("hidden_size");
  c.intermediate_size = t.positive("intermediate_size");
  c.num_hidden_layers = t.positive("num_hidden_layers");
  c.num_attention_heads = t.positive("num_attention_heads");
  c.num_key_value_heads = t.has("num_key_value_heads") ? t.positive("num_key_value_heads") : c.num_attention_heads;
  c.vocab_size = t.positive("vocab_size");
  c.max_position_embeddings = t.positive("max_position_embeddings");
  c.rms_norm_eps = t.number("rms_norm_eps");
  c.tie_word_embeddings = t.boolean("tie_word_embeddings");
  c.hidden_act = t.string("hidden_act");
  if (c.hidden_size % c.num_attention_heads != 0)
    t.fail("num_attention_heads", "= " + std::to_string(c.num_attention_heads) +
                                      " does not divide hidden_size = " + std::to_string(c.hidden_size));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    t.fail("num_key_value_heads",
           "= " + std::to_string(c.num_key_value_heads) +
               " does not divide num_attention_heads = " + std::to_string(c.num_attention_heads));
  c.head_dim = t.has("head_dim") ? t.positive("head_dim") : c.hidden_size / c.num_attention_heads;
  if (c.head_dim % 2 != 0)
    t.fail("head_dim", "= " + std::to_string(c.head_dim) + ": expected an even number (RoPE rotates pairs)");
  if (!(c.rms_norm_eps > 0))
    t.fail("rms_norm_eps", "= " + std::to_string(c.rms_norm_eps) + ": expected a positive number");
  for (const char* key : {"attention_bias", "mlp_bias"})
    if (t.boolean(key)) t.fail(key, "= true: biases in the Llama decoder are not supported");
  read_rope(t, c);
  return c;
}

}  // namespace

ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source_name) {
  if (!j.is_object()) throw LoadError(source_name + ": expected a JSON object, found " + j.dump().substr(0, 80));
  ConfigObject top(j, &config_defaults::top(), source_name, "");
  ModelConfig c;
  read_architecture(top, c);
  if (top.has("torch_dtype"))
    c.torch_dtype = top.string("torch_dtype");
  else if (top.has("dtype"))
    c.torch_dtype = top.string("dtype");

  static const nlohmann::json empty = nlohmann::json::object();
  const auto* vj = top.object("vision_config");
  c.vision = read_vision(ConfigObject(vj ? *vj : empty, &config_defaults::vision(), source_name, "vision_config."));

  if (const auto* tj = top.object("text_config")) {
    c.text = read_text(ConfigObject(*tj, &config_defaults::text(), source_name, "text_config."));
  } else {
    nlohmann::json d = config_defaults::text();
    d.merge_patch(config_defaults::text_when_absent());
    c.text = read_text(ConfigObject(empty, &d, source_name, "text_config."));
  }

  c.scale_factor = top.positive("scale_factor");
  c.image_token_id = top.integer("image_token_id");
  c.tie_word_embeddings = top.boolean("tie_word_embeddings");

  int64_t side = c.patches_per_side();
  if (side % c.scale_factor != 0)
    top.fail("scale_factor", "= " + std::to_string(c.scale_factor) + " does not divide the patch grid side " +
                                 std::to_string(side) + " (vision_config.image_size " +
                                 std::to_string(c.vision.image_size) + " / patch_size " +
                                 std::to_string(c.vision.patch_size) + ")");
  if (c.image_token_id < 0 || c.image_token_id >= c.text.vocab_size)
    top.fail("image_token_id", "= " + std::to_string(c.image_token_id) + " is outside the vocabulary [0, " +
                                   std::to_string(c.text.vocab_size) + ") of text_config.vocab_size");
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& dir) {
  auto path = dir / "config.json";
  return parse_model_config(read_config_json_file(path), path.string());
}

}  // namespace smolvk
