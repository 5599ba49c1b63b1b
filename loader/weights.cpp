#include "loader/weights.h"

#include <set>

#include "loader/error.h"

namespace smolvk {
namespace {

struct Expected {
  std::string name;  // without the layout prefix
  std::vector<int64_t> shape;
  const TensorView** slot;
  bool prefixed = true;  // lm_head.weight sits outside the prefix in every layout
};

class Binder {
 public:
  void add(std::string name, std::vector<int64_t> shape, const TensorView** slot, bool prefixed = true) {
    list.push_back({std::move(name), std::move(shape), slot, prefixed});
  }
  void linear(const std::string& base, int64_t out, int64_t in, LinearWeights& w, bool bias) {
    add(base + ".weight", {out, in}, &w.weight);
    if (bias) add(base + ".bias", {out}, &w.bias);
  }
  void norm(const std::string& base, int64_t n, NormWeights& w, bool bias) {
    add(base + ".weight", {n}, &w.weight);
    if (bias) add(base + ".bias", {n}, &w.bias);
  }
  std::vector<Expected> list;
};

void expect_vision(const VisionConfig& v, VisionWeights& w, Binder& b) {
  const int64_t h = v.hidden_size, p = v.patch_size;
  const std::string e = "vision_model.embeddings.";
  b.add(e + "patch_embedding.weight", {h, v.num_channels, p, p}, &w.patch_embedding.weight);
  b.add(e + "patch_embedding.bias", {h}, &w.patch_embedding.bias);
  b.add(e + "position_embedding.weight", {v.num_patches(), h}, &w.position_embedding);
  w.layers.resize(size_t(v.num_hidden_layers));
  for (size_t i = 0; i < w.layers.size(); ++i) {
    auto& l = w.layers[i];
    const std::string pre = "vision_model.encoder.layers." + std::to_string(i) + ".";
    b.linear(pre + "self_attn.q_proj", h, h, l.q_proj, true);
    b.linear(pre + "self_attn.k_proj", h, h, l.k_proj, true);
    b.linear(pre + "self_attn.v_proj", h, h, l.v_proj, true);
    b.linear(pre + "self_attn.out_proj", h, h, l.out_proj, true);
    b.norm(pre + "layer_norm1", h, l.layer_norm1, true);
    b.norm(pre + "layer_norm2", h, l.layer_norm2, true);
    b.linear(pre + "mlp.fc1", v.intermediate_size, h, l.fc1, true);
    b.linear(pre + "mlp.fc2", h, v.intermediate_size, l.fc2, true);
  }
  b.norm("vision_model.post_layernorm", h, w.post_layernorm, true);
}

void expect_text(const TextConfig& t, bool tied, TextWeights& w, Binder& b) {
  const int64_t h = t.hidden_size, q = t.num_attention_heads * t.head_dim, kv = t.num_key_value_heads * t.head_dim;
  b.add("text_model.embed_tokens.weight", {t.vocab_size, h}, &w.embed_tokens);
  w.layers.resize(size_t(t.num_hidden_layers));
  for (size_t i = 0; i < w.layers.size(); ++i) {
    auto& l = w.layers[i];
    const std::string pre = "text_model.layers." + std::to_string(i) + ".";
    b.linear(pre + "self_attn.q_proj", q, h, l.q_proj, false);
    b.linear(pre + "self_attn.k_proj", kv, h, l.k_proj, false);
    b.linear(pre + "self_attn.v_proj", kv, h, l.v_proj, false);
    b.linear(pre + "self_attn.o_proj", h, q, l.o_proj, false);
    b.linear(pre + "mlp.gate_proj", t.intermediate_size, h, l.gate_proj, false);
    b.linear(pre + "mlp.up_proj", t.intermediate_size, h, l.up_proj, false);
    b.linear(pre + "mlp.down_proj", h, t.intermediate_size, l.down_proj, false);
    b.norm(pre + "input_layernorm", h, l.input_layernorm, false);
    b.norm(pre + "post_attention_layernorm", h, l.post_attention_layernorm, false);
  }
  b.norm("text_model.norm", h, w.norm, false);
  if (!tied) b.add("lm_head.weight", {t.vocab_size, h}, &w.lm_head, false);
}

std::string full_name(const Expected& e, const std::string& prefix) { return e.prefixed ? prefix + e.name : e.name; }

// Lists capped so a wholly foreign checkpoint still gives a readable message.
void append_capped(std::string& msg, const char* title, const std::vector<std::string>& lines) {
  constexpr size_t kMax = 40;
  for (size_t i = 0; i < lines.size() && i < kMax; ++i) msg += std::string("\n  ") + title + ": " + lines[i];
  if (lines.size() > kMax) msg += "\n  ... and " + std::to_string(lines.size() - kMax) + " more " + title + " tensors";
}

}  // namespace

WeightSet map_weights(const ModelConfig& config, const SafeTensors& tensors) {
  WeightSet ws;
  Binder b;
  const bool tied = config.tied_embeddings();
  expect_vision(config.vision, ws.vision, b);
  const int64_t s2 = config.scale_factor * config.scale_factor;
  b.linear("connector.modality_projection.proj", config.text.hidden_size, config.vision.hidden_size * s2,
           ws.connector_proj, false);
  expect_text(config.text, tied, ws.text, b);

  // Layout: whichever prefix locates more of the expected names.
  size_t best = 0;
  ws.prefix = "model.";
  for (const std::string prefix : {"model.", ""}) {
    size_t n = 0;
    for (const auto& e : b.list) n += tensors.find(full_name(e, prefix)) != nullptr;
    if (n > best) best = n, ws.prefix = prefix;
  }

  std::vector<std::string> missing, wrong, unused;
  std::set<std::string> used;
  auto check = [&](const std::string& name, const std::vector<int64_t>& shape) -> const TensorView* {
    const TensorView* t = tensors.find(name);
    if (!t) {
      missing.push_back(name + ", expected " + shape_string(shape));
      return nullptr;
    }
    used.insert(name);
    if (t->shape != shape) {
      wrong.push_back(name + ", expected " + shape_string(shape) + ", found " + shape_string(t->shape));
      return nullptr;
    }
    if (!is_float(t->dtype)) {
      wrong.push_back(name + ", dtype " + dtype_name(t->dtype) + ", expected F32, F16 or BF16");
      return nullptr;
    }
    return t;
  };
  for (const auto& e : b.list) *e.slot = check(full_name(e, ws.prefix), e.shape);
  if (tied) {
    // transformers ties lm_head to the embedding and ignores a stored copy; it must still fit.
    if (tensors.find("lm_head.weight")) check("lm_head.weight", {config.text.vocab_size, config.text.hidden_size});
    ws.text.lm_head = ws.text.embed_tokens;
    ws.text.lm_head_tied = true;
  }
  for (const auto& name : tensors.names())
    if (!used.count(name)) unused.push_back(name + " " + shape_string(tensors.at(name).shape));

  if (!missing.empty() || !wrong.empty() || !unused.empty()) {
    std::string msg = tensors.source() + ": tensors do not match the config (" + config.architecture_name +
                      ", layout prefix \"" + ws.prefix + "\"): " + std::to_string(missing.size()) + " missing, " +
                      std::to_string(wrong.size()) + " wrong shape or dtype, " + std::to_string(unused.size()) +
                      " unused";
    append_capped(msg, "missing", missing);
    append_capped(msg, "wrong", wrong);
    append_capped(msg, "unused", unused);
    throw LoadError(msg);
  }
  return ws;
}

}  // namespace smolvk
