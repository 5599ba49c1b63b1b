#include "model/device_weights.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "model/ops/kernel_policy.h"
#include "model/ops/matmul_ref.h"

namespace smolvk {
namespace {

DType device_dtype(TensorDType t, const std::string& name) {
  switch (t) {
    case TensorDType::F32:
      return DType::F32;
    case TensorDType::F16:
      return DType::F16;
    case TensorDType::BF16:
      return DType::BF16;
    default:
      throw std::invalid_argument("tensor " + name + " is not a float tensor");
  }
}

struct Uploader {
  Context& ctx;
  DeviceWeights& out;
  const std::function<void(uint64_t)>& on_bytes;
  bool f32_as_bf16 = false;  // LoadOptions::f32_as_bf16
  uint64_t file_bytes = 0;   // of the checkpoint's tensors uploaded so far

  // The parts' values as bf16 bits (f32 rounded to nearest even), concatenated.
  static std::vector<uint16_t> to_bf16(std::initializer_list<const TensorView*> parts) {
    std::vector<uint16_t> out;
    for (const TensorView* t : parts) {
      const size_t n = size_t(t->numel());
      out.reserve(out.size() + n);
      for (size_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, t->data + 4 * i, 4);  // the file's data need not be aligned
        out.push_back(ops::f32_to_bf16(v));
      }
    }
    return out;
  }

  // Concatenates tensors along dim 0 (all must share dtype and trailing dims); with `f16`, their
  // values as to_f16 converted them instead of the file's bytes; with `pad`, the heads padded.
  DeviceTensor cat(std::initializer_list<const TensorView*> parts, const std::vector<uint16_t>* f16 = nullptr,
                   const HeadPadding* pad = nullptr) {
    const TensorView* first = *parts.begin();
    // f32 tensors kept as bf16 (f32_as_bf16), converted after the parts' dtypes are checked.
    const bool narrow = !f16 && f32_as_bf16 && first->dtype == TensorDType::F32;
    const DType dt = f16 ? DType::F16 : narrow ? DType::BF16 : device_dtype(first->dtype, first->name);
    int64_t rows = 0;
    size_t bytes = 0;
    for (const TensorView* t : parts) {
      if (t->dtype != first->dtype)
        throw std::invalid_argument("tensors " + first->name + " and " + t->name +
                                    " have different dtypes; smolvk fuses them into one matrix");
      rows += t->shape[0];
      bytes += t->bytes;
      out.parameters += uint64_t(t->numel());
    }
    std::vector<uint16_t> narrowed;
    if (narrow) narrowed = to_bf16(parts);
    const std::vector<uint16_t>* converted = f16 ? f16 : narrow ? &narrowed : nullptr;
    if (converted) bytes = converted->size() * 2;
    std::vector<int64_t> shape{rows};
    shape.insert(shape.end(), first->shape.begin() + 1, first->shape.end());
    std::vector<uint8_t> host;  // the bytes as uploaded, where they are not the file's
    if (pad) {
      // The converted values, or the parts' bytes gathered, then padded.
      const uint8_t* src = reinterpret_cast<const uint8_t*>(converted ? converted->data() : nullptr);
      if (!converted) {
        host.resize(bytes);
        size_t off = 0;
        for (const TensorView* t : parts) std::memcpy(host.data() + std::exchange(off, off + t->bytes), t->data, t->bytes);
        src = host.data();
      }
      host = pad_heads(src, dtype_size(dt), shape, *pad, first->name);
      bytes = host.size();
    }
    DeviceTensor d{ctx.create_buffer(bytes), dt, shape};
    if (pad) {
      ctx.upload(d.buffer, host.data(), bytes);
    } else if (converted) {
      ctx.upload(d.buffer, converted->data(), bytes);
    } else {
      uint64_t off = 0;
      for (const TensorView* t : parts) {
        ctx.upload(d.buffer, t->data, t->bytes, off);
        off += t->bytes;
      }
    }
    out.bytes += bytes;
    for (const TensorView* t : parts) file_bytes += t->bytes;
    if (on_bytes) on_bytes(file_bytes);
    return d;
  }
  DeviceTensor one(const TensorView* t) { return t ? cat({t}) : DeviceTensor{}; }

  // The parts' values as f16, when they are bf16 (or f32 kept as bf16) and every value fits f16.
  std::optional<std::vector<uint16_t>> to_f16(std::initializer_list<const TensorView*> parts) const {
    std::vector<uint16_t> host;
    for (const TensorView* t : parts) {
      const bool narrowed = t && f32_as_bf16 && t->dtype == TensorDType::F32;
      if (!t || (t->dtype != TensorDType::BF16 && !narrowed)) return std::nullopt;
      const size_t at = host.size(), n = size_t(t->numel());
      if (narrowed) {
        const std::vector<uint16_t> b = to_bf16({t});
        host.insert(host.end(), b.begin(), b.end());
      } else {
        host.resize(at + n);
        std::memcpy(host.data() + at, t->data, n * 2);  // the file's data need not be 2-byte aligned
      }
      if (!ops::bf16_to_f16_in_range(host.data() + at, n, host.data() + at)) return std::nullopt;
    }
    return host;
  }

  // A linear layer that runs on the tensor-core GEMM: weight and bias (none unless every bias
  // part is there) in `gemm` (f16) when both convert, else in the checkpoint's dtype.
  // `w_pad`, `b_pad`: the attention heads' zero padding of the weight and the bias.
  void gemm_linear(std::optional<DType> gemm, std::initializer_list<const TensorView*> weight,
                   std::initializer_list<const TensorView*> bias, DeviceTensor& w, DeviceTensor& b,
                   const HeadPadding* w_pad = nullptr, const HeadPadding* b_pad = nullptr) {
    const bool has_bias = bias.size() > 0 && std::find(bias.begin(), bias.end(), nullptr) == bias.end();
    if (gemm == DType::F16) {
      const auto wh = to_f16(weight);
      const auto bh = has_bias ? to_f16(bias) : std::optional<std::vector<uint16_t>>(std::vector<uint16_t>{});
      if (wh && bh) {
        w = cat(weight, &*wh, w_pad);
        if (has_bias) b = cat(bias, &*bh, b_pad);
        return;
      }
    }
    w = cat(weight, nullptr, w_pad);
    if (has_bias) b = cat(bias, nullptr, b_pad);
  }
};

}  // namespace

std::vector<uint8_t> pad_heads(const uint8_t* src, size_t elem, std::vector<int64_t>& shape, const HeadPadding& p,
                               const std::string& name) {
  const int64_t R = shape.empty() ? 0 : shape[0], C = shape.size() > 1 ? shape[1] : 1;
  const int64_t padded = p.dim == 0 ? R : C;
  if (shape.empty() || shape.size() > 2 || size_t(p.dim) >= shape.size() || p.hd <= 0 || p.hdp < p.hd ||
      padded % p.hd != 0)
    throw std::invalid_argument("tensor " + name + ": cannot pad heads of " + std::to_string(p.hd) + " in dim " +
                                std::to_string(p.dim) + " of a tensor of " + std::to_string(shape.size()) + " dims");
  const int64_t heads = padded / p.hd;
  shape[size_t(p.dim)] = heads * p.hdp;
  std::vector<uint8_t> out(size_t(R * C / p.hd * p.hdp) * elem, 0);
  // A run of `hd` heads' values (hd·C elements for rows, hd for columns) then zeros.
  const int64_t outer = p.dim == 0 ? 1 : R, run = p.dim == 0 ? p.hd * C : p.hd, step = p.dim == 0 ? p.hdp * C : p.hdp;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t h = 0; h < heads; ++h)
      std::memcpy(out.data() + size_t((o * heads + h) * step) * elem, src + size_t((o * heads + h) * run) * elem,
                  size_t(run) * elem);
  return out;
}

DeviceWeights upload_weights(Context& ctx, const ModelConfig& c, const WeightSet& w, std::optional<DType> gemm,
                             int64_t vision_head_dim, const std::function<void(uint64_t)>& on_bytes,
                             bool f32_as_bf16) {
  if (vision_head_dim == 0) vision_head_dim = c.vision.head_dim;
  DeviceWeights d;
  Uploader up{ctx, d, on_bytes, f32_as_bf16};
  const int64_t p = c.vision.patch_size, ch = c.vision.num_channels;
  up.gemm_linear(gemm, {w.vision.patch_embedding.weight}, {w.vision.patch_embedding.bias}, d.patch_w, d.patch_b);
  d.patch_w.shape = {d.patch_w.shape[0], ch * p * p};  // the conv weight flattened as (c, ky, kx)
  d.position_embedding = up.one(w.vision.position_embedding);
  // q, k, v's rows and out_proj's columns are laid out per head of vision_head_dim.
  d.vision_head_dim = vision_head_dim;
  const HeadPadding rows_pad{0, c.vision.head_dim, vision_head_dim}, cols_pad{1, c.vision.head_dim, vision_head_dim};
  const bool padded = vision_head_dim != c.vision.head_dim;
  for (const auto& l : w.vision.layers) {
    DeviceVisionLayer v;
    v.ln1_w = up.one(l.layer_norm1.weight);
    v.ln1_b = up.one(l.layer_norm1.bias);
    up.gemm_linear(gemm, {l.q_proj.weight, l.k_proj.weight, l.v_proj.weight},
                   {l.q_proj.bias, l.k_proj.bias, l.v_proj.bias}, v.qkv_w, v.qkv_b, padded ? &rows_pad : nullptr,
                   padded ? &rows_pad : nullptr);
    up.gemm_linear(gemm, {l.out_proj.weight}, {l.out_proj.bias}, v.out_w, v.out_b, padded ? &cols_pad : nullptr);
    v.ln2_w = up.one(l.layer_norm2.weight);
    v.ln2_b = up.one(l.layer_norm2.bias);
    up.gemm_linear(gemm, {l.fc1.weight}, {l.fc1.bias}, v.fc1_w, v.fc1_b);
    up.gemm_linear(gemm, {l.fc2.weight}, {l.fc2.bias}, v.fc2_w, v.fc2_b);
    d.vision.push_back(std::move(v));
  }
  d.post_ln_w = up.one(w.vision.post_layernorm.weight);
  d.post_ln_b = up.one(w.vision.post_layernorm.bias);
  DeviceTensor no_bias;
  up.gemm_linear(gemm, {w.connector_proj.weight}, {}, d.connector_w, no_bias);
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
