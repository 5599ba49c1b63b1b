// SigLIP vision encoder + Idefics3 connector, all tiles of a request in one batch.
#include <cmath>

#include "model/graphs.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/op_list.h"

namespace smolvk {

void build_vision(Graph& g, const ModelConfig& c, const DeviceWeights& w, const VisionIO& io) {
  using namespace ops;
  const auto& v = c.vision;
  const int64_t N = io.pixels.dim(0), S = io.pos_ids.dim(1), D = v.hidden_size;
  // Heads of hd values, laid out in w.vision_head_dim (zero-padded where the tensor-core
  // attention needs it): A = heads · hd columns of q, k, v and the attention output.
  const int64_t heads = v.num_attention_heads, hd = w.vision_head_dim, A = heads * hd;
  const float attention_scale = float(1.0 / std::sqrt(double(v.head_dim)));
  const float eps = float(v.layer_norm_eps);
  // Which kernels run these ops, fused or not, is OpList::lower's choice (op_list.h).
  OpList ops(g, kernel_policy(g.context().caps()));

  // h = patch_embedding(pixels) + position_embedding, where pixels given as bytes are first
  // the processor's (bytes · rescale − mean) / std, looked up in io.pixel_lut
  Tensor patches = transient(g, DType::F32, {N, S, io.pixels.dim(1) * v.patch_size * v.patch_size}, "patches");
  ops.im2col(io.pixels, patches, int(v.patch_size), "vision.im2col", io.pixel_lut);
  Tensor h = transient(g, DType::F32, {N, S, D}, "vision.h");
  const Tensor patch_b = w.patch_b.bind(g);
  ops.linear(patches, w.patch_w.bind(g), h, "vision.patch_embed", false, &patch_b);
  ops.add_position_embedding(h, w.position_embedding.bind(g), io.pos_ids, "vision.position_embedding");

  // The residual stream h is f32; what only feeds GEMMs and attention may be stored as f16.
  const DType act = tensor_core_activation_dtype(g.context().caps(), N * S, D, hd);
  Tensor x = transient(g, act, {N, S, D}, "vision.x");
  Tensor qkv = transient(g, act, {N * S, 3 * A}, "vision.qkv");
  Tensor att = transient(g, act, {N, S, heads, hd}, "vision.attn");
  Tensor fc1 = transient(g, act, {N * S, v.intermediate_size}, "vision.fc1");
  Tensor mlp = transient(g, act, {N * S, v.intermediate_size}, "vision.mlp");
  for (size_t i = 0; i < w.vision.size(); ++i) {
    const DeviceVisionLayer& L = w.vision[i];
    const std::string p = "vision.L" + std::to_string(i) + ".";
    const Tensor qkv_b = L.qkv_b.bind(g), out_b = L.out_b.bind(g), fc1_b = L.fc1_b.bind(g), fc2_b = L.fc2_b.bind(g);
    // h += out_proj(attention(qkv_proj(layer_norm1(h))))
    ops.layer_norm(h, L.ln1_w.bind(g), L.ln1_b.bind(g), eps, x, p + "layer_norm1");
    ops.linear(x, L.qkv_w.bind(g), qkv, p + "qkv_proj", false, &qkv_b);
    ops.attention_encoder(qkv, 0, A, 2 * A, io.key_valid, att, p + "attention", attention_scale);
    ops.linear(reshape(att, {N * S, A}), L.out_w.bind(g), h, p + "out_proj", /*accumulate=*/true, &out_b);
    // h += fc2(gelu(fc1(layer_norm2(h))))
    ops.layer_norm(h, L.ln2_w.bind(g), L.ln2_b.bind(g), eps, x, p + "layer_norm2");
    ops.linear(x, L.fc1_w.bind(g), fc1, p + "fc1", false, &fc1_b);
    ops.gelu(fc1, mlp, p + "gelu");
    ops.linear(mlp, L.fc2_w.bind(g), h, p + "fc2", /*accumulate=*/true, &fc2_b);
  }
  const Tensor out = io.vision_out       ? *io.vision_out
                     : act == DType::F32 ? x
                                         : transient(g, DType::F32, {N, S, D}, "vision.post_layernorm");
  ops.layer_norm(h, w.post_ln_w.bind(g), w.post_ln_b.bind(g), eps, out, "vision.post_layernorm");

  // connector: proj(pixel_unshuffle(out))
  const int64_t s = c.scale_factor;
  Tensor shuffled = transient(g, DType::F32, {N, S / (s * s), D * s * s}, "connector.unshuffled");
  ops.pixel_unshuffle(out, shuffled, int(s), "connector.pixel_unshuffle");
  ops.linear(shuffled, w.connector_w.bind(g), io.image_rows, "connector.proj");
  ops.lower();
}

int64_t vision_pass_tiles(const VisionConfig& vc, int64_t seq, uint64_t act_bytes, uint64_t pass_bytes,
                          uint32_t fixed_tiles, uint64_t max_binding_bytes, int64_t head_dim) {
  const uint64_t S = uint64_t(std::max<int64_t>(seq, 1)), hidden = uint64_t(vc.hidden_size);
  // The attention's width: heads of the padded head dim (the hidden size where unset).
  const int64_t hd = head_dim ? head_dim : vc.head_dim;
  const uint64_t A = hd > 0 && vc.num_attention_heads > 0 ? uint64_t(vc.num_attention_heads * hd) : hidden;
  // Per tile: the f32 residual stream, then x, qkv, attention output and MLP activations.
  const uint64_t per_tile =
      S * (4 * hidden + act_bytes * (hidden + 4 * A + uint64_t(vc.intermediate_size)));
  uint64_t tiles = fixed_tiles ? fixed_tiles : std::max<uint64_t>(1, pass_bytes / per_tile);
  // Each of these is bound whole by some dispatch (attention reads all of qkv).
  const uint64_t widest = S * std::max(4 * hidden, act_bytes * std::max(3 * A, uint64_t(vc.intermediate_size)));
  if (max_binding_bytes) tiles = std::min(tiles, std::max<uint64_t>(1, max_binding_bytes / widest));
  return int64_t(tiles);
}

}  // namespace smolvk
