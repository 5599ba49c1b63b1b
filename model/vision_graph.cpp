// SigLIP vision encoder + Idefics3 connector, all tiles of a request in one batch.
#include "model/graphs.h"
#include "model/ops/attention.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/matmul.h"
#include "model/ops/norm.h"
#include "model/ops/patch_embed.h"
#include "model/ops/pixel_unshuffle.h"

namespace smolvk {

void build_vision(Graph& g, const ModelConfig& c, const DeviceWeights& w, const VisionIO& io) {
  using namespace ops;
  const auto& v = c.vision;
  const int64_t N = io.pixels.dim(0), S = io.pos_ids.dim(1), D = v.hidden_size;
  const int64_t heads = v.num_attention_heads, hd = v.head_dim;
  const float eps = float(v.layer_norm_eps);

  Tensor patches = transient(g, DType::F32, {N, S, io.pixels.dim(1) * v.patch_size * v.patch_size}, "patches");
  im2col(g, io.pixels, patches, int(v.patch_size), "vision.im2col");
  Tensor h = transient(g, DType::F32, {N, S, D}, "vision.h");
  Tensor patch_b = w.patch_b.bind(g);
  matmul(g, patches, w.patch_w.bind(g), &patch_b, h, {.name = "vision.patch_embed"});
  add_position_embedding(g, h, w.position_embedding.bind(g), io.pos_ids, "vision.position_embedding");

  // The residual stream h is f32; what only feeds GEMMs and attention may be stored as f16.
  const DType act = tensor_core_activation_dtype(g.context().caps(), N * S, D, hd);
  Tensor x = transient(g, act, {N, S, D}, "vision.x");
  Tensor qkv = transient(g, act, {N * S, 3 * D}, "vision.qkv");
  Tensor att = transient(g, act, {N, S, heads, hd}, "vision.attn");
  Tensor mlp = transient(g, act, {N * S, v.intermediate_size}, "vision.mlp");
  for (size_t i = 0; i < w.vision.size(); ++i) {
    const DeviceVisionLayer& L = w.vision[i];
    const std::string p = "vision.L" + std::to_string(i) + ".";
    layer_norm(g, h, L.ln1_w.bind(g), L.ln1_b.bind(g), x, eps, p + "layer_norm1");
    Tensor qkv_b = L.qkv_b.bind(g);
    matmul(g, x, L.qkv_w.bind(g), &qkv_b, qkv, {.name = p + "qkv_proj"});
    attention_encoder(g, {qkv, 0}, {qkv, D}, {qkv, 2 * D}, io.key_valid, att, {.scale = 0.0f, .name = p + "attention"});
    Tensor out_b = L.out_b.bind(g);
    matmul(g, reshape(att, {N * S, D}), L.out_w.bind(g), &out_b, h, {.accumulate = true, .name = p + "out_proj"});
    layer_norm(g, h, L.ln2_w.bind(g), L.ln2_b.bind(g), x, eps, p + "layer_norm2");
    Tensor fc1_b = L.fc1_b.bind(g), fc2_b = L.fc2_b.bind(g);
    matmul(g, x, L.fc1_w.bind(g), &fc1_b, mlp, {.gelu = true, .name = p + "fc1"});
    matmul(g, mlp, L.fc2_w.bind(g), &fc2_b, h, {.accumulate = true, .name = p + "fc2"});
  }
  const Tensor out = io.vision_out       ? *io.vision_out
                     : act == DType::F32 ? x
                                         : transient(g, DType::F32, {N, S, D}, "vision.post_layernorm");
  layer_norm(g, h, w.post_ln_w.bind(g), w.post_ln_b.bind(g), out, eps, "vision.post_layernorm");

  const int64_t s = c.scale_factor;
  Tensor shuffled = transient(g, DType::F32, {N, S / (s * s), D * s * s}, "connector.unshuffled");
  pixel_unshuffle(g, out, shuffled, int(s), "connector.pixel_unshuffle");
  matmul(g, shuffled, w.connector_w.bind(g), nullptr, io.image_rows, {.name = "connector.proj"});
}

}  // namespace smolvk
