#include "model/device_weights.h"

#include <cstring>
#include <stdexcept>

namespace smolvk {
namespace {

DType device_dtype(TensorDType t, const std::string& name) {
  switch (t) {
    case TensorDType::F32: return DType::F32;
    case TensorDType::F16: return DType::F16;
    case TensorDType::BF16: return DType::BF16;
    default: throw std::invalid_argument("tensor " + name + " is not a float tensor");
  }
}

struct Uploader {
  Context& ctx;
  DeviceWeights& out;

  // Concatenates tensors along dim 0 (all must share dtype and trailing dims).
  DeviceTensor cat(std::initializer_list<const TensorView*> parts, std::vector<int64_t> shape_tail = {}) {
    const TensorView* first = *parts.begin();
    DType dt = device_dtype(first->dtype, first->name);
    int64_t rows = 0;
    size_t bytes = 0;
    for (const TensorView* t : parts) {
      if (t->dtype != first->dtype)
        throw std::invalid_argument("tensors " + first->name + " and " + t->name +
                                    " have different dtypes; smolvk fuses them into one matrix");
      rows += t->shape[0];
      bytes += t->bytes;
    }
    std::vector<int64_t> shape{rows};
    if (shape_tail.empty())
      shape.insert(shape.end(), first->shape.begin() + 1, first->shape.end());
    else
      shape.insert(shape.end(), shape_tail.begin(), shape_tail.end());
    DeviceTensor d{ctx.create_buffer(bytes), dt, shape};
    uint64_t off = 0;
    for (const TensorView* t : parts) {
      ctx.upload(d.buffer, t->data, t->bytes, off);
      off += t->bytes;
      out.parameters += uint64_t(t->numel());
    }
    out.bytes += bytes;
    return d;
  }
  DeviceTensor one(const TensorView* t) { return t ? cat({t}) : DeviceTensor{}; }
};

}  // namespace

DeviceWeights upload_weights(Context& ctx, const ModelConfig& c, const WeightSet& w) {
  DeviceWeights d;
  Uploader up{ctx, d};
  const int64_t p = c.vision.patch_size, ch = c.vision.num_channels;
  d.patch_w = up.cat({w.vision.patch_embedding.weight}, {ch * p * p});
  d.patch_b = up.one(w.vision.patch_embedding.bias);
  d.position_embedding = up.one(w.vision.position_embedding);
  for (const auto& l : w.vision.layers) {
    DeviceVisionLayer v;
    v.ln1_w = up.one(l.layer_norm1.weight);
    v.ln1_b = up.one(l.layer_norm1.bias);
    v.qkv_w = up.cat({l.q_proj.weight, l.k_proj.weight, l.v_proj.weight});
    if (l.q_proj.bias && l.k_proj.bias && l.v_proj.bias)
      v.qkv_b = up.cat({l.q_proj.bias, l.k_proj.bias, l.v_proj.bias});
    v.out_w = up.one(l.out_proj.weight);
    v.out_b = up.one(l.out_proj.bias);
    v.ln2_w = up.one(l.layer_norm2.weight);
    v.ln2_b = up.one(l.layer_norm2.bias);
    v.fc1_w = up.one(l.fc1.weight);
    v.fc1_b = up.one(l.fc1.bias);
    v.fc2_w = up.one(l.fc2.weight);
    v.fc2_b = up.one(l.fc2.bias);
    d.vision.push_back(std::move(v));
  }
  d.post_ln_w = up.one(w.vision.post_layernorm.weight);
  d.post_ln_b = up.one(w.vision.post_layernorm.bias);
  d.connector_w = up.one(w.connector_proj.weight);
  d.embed_tokens = up.one(w.text.embed_tokens);
  for (const auto& l : w.text.layers) {
    DeviceTextLayer t;
    t.input_norm = up.one(l.input_layernorm.weight);
    t.qkv_w = up.cat({l.q_proj.weight, l.k_proj.weight, l.v_proj.weight});
    t.o_w = up.one(l.o_proj.weight);
    t.post_norm = up.one(l.post_attention_layernorm.weight);
    t.gate_up_w = up.cat({l.gate_proj.weight, l.up_proj.weight});
    t.down_w = up.one(l.down_proj.weight);
    d.text.push_back(std::move(t));
  }
  d.final_norm = up.one(w.text.norm.weight);
  d.lm_head = w.text.lm_head_tied ? d.embed_tokens : up.one(w.text.lm_head);
  return d;
}

}  // namespace smolvk
