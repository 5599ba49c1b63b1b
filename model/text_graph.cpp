// Llama decoder (SmolLM2): prefill of T tokens per batch row, or one decode step (T = 1).
#include "model/graphs.h"
#include "model/ops/activation.h"
#include "model/ops/attention.h"
#include "model/ops/embedding.h"
#include "model/ops/matmul.h"
#include "model/ops/mlp.h"
#include "model/ops/norm.h"
#include "model/ops/rope.h"
#include "model/ops/splice.h"

namespace smolvk {

KvCache make_kv_cache(Context& ctx, const ModelConfig& c, int64_t batch, int64_t capacity) {
  const auto& t = c.text;
  KvCache kv;
  kv.batch = batch;
  kv.capacity = capacity;
  std::vector<int64_t> shape{batch, t.num_key_value_heads, capacity, t.head_dim};
  const uint64_t bytes = uint64_t(batch * t.num_key_value_heads * capacity * t.head_dim) * 4;
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
    kv.k.push_back({ctx.create_buffer(bytes), DType::F32, shape});
    kv.v.push_back({ctx.create_buffer(bytes), DType::F32, shape});
  }
  return kv;
}

void build_text(Graph& g, const ModelConfig& c, const DeviceWeights& w, const KvCache& kv,
                const DeviceTensor& rope_table, const TextIO& io) {
  using namespace ops;
  const auto& t = c.text;
  const int64_t B = io.batch, T = io.tokens, H = t.hidden_size, D = t.head_dim;
  const int64_t Hq = t.num_attention_heads, Hkv = t.num_key_value_heads;
  const float eps = float(t.rms_norm_eps);

  // With given input embeddings the residual stream runs in their (per-call) buffer.
  Tensor h = io.embeds ? *io.embeds : transient(g, DType::F32, {B * T, H}, "text.h");
  if (!io.embeds) embedding(g, io.ids, w.embed_tokens.bind(g), h, "text.embed_tokens");
  if (io.image_rows) splice(g, h, *io.image_rows, *io.image_targets, "text.splice_images");

  Tensor x = transient(g, DType::F32, {B * T, H}, "text.x");
  Tensor qkv = transient(g, DType::F32, {B * T, (Hq + 2 * Hkv) * D}, "text.qkv");
  Tensor q = transient(g, DType::F32, {B, T, Hq, D}, "text.q");
  Tensor att = transient(g, DType::F32, {B, T, Hq, D}, "text.attn");
  Tensor gate_up = transient(g, DType::F32, {B * T, 2 * t.intermediate_size}, "text.gate_up");
  Tensor act = transient(g, DType::F32, {B * T, t.intermediate_size}, "text.act");
  Tensor table = rope_table.bind(g);
  // Batch-1/2 decode runs the fused mat-vec kernel, which folds RMSNorm into the next
  // projection and SwiGLU into down_proj; more rows keep them as separate dispatches (faster
  // there: see kMatVecFusedFastRows).
  const bool fuse = B * T <= kMatVecFusedFastRows;
  const bool mlp_fused = fuse && mlp_decode_available(g.context().caps(), B * T);
  Tensor h_snap;  // made where a layer first needs it
  Tensor h_other = mlp_fused && T == 1 ? transient(g, DType::F32, {B, H}, "text.h_other") : Tensor{};
  const bool fold_o = tuning("OPROJ_FOLD", 1) == 1;
  // y = x_norm · Wᵀ, with x_norm = RMSNorm(src) fused into the mat-vec where possible.
  auto norm_matmul = [&](const Tensor& src, const Tensor& nw, const Tensor& wt, const Tensor& out,
                         const std::string& norm_name, const std::string& mm_name) {
    if (fuse && nw.dtype == wt.dtype) {
      matmul(g, src, wt, nullptr, out, {.name = mm_name, .norm_weight = &nw, .norm_eps = eps});
    } else {
      rms_norm(g, src, nw, x, eps, norm_name);
      matmul(g, x, wt, nullptr, out, {.name = mm_name});
    }
  };
  for (size_t i = 0; i < w.text.size(); ++i) {
    const DeviceTextLayer& L = w.text[i];
    const std::string p = "text.L" + std::to_string(i) + ".";
    Tensor kc = kv.k[i].bind(g), vc = kv.v[i].bind(g);
    const Tensor in_norm = L.input_norm.bind(g), qkv_w = L.qkv_w.bind(g);
    if (fuse && in_norm.dtype == qkv_w.dtype) {  // RMSNorm, qkv, RoPE and the cache write in one
      matmul_rope_qkv(g, h, qkv_w, {io.positions, table, q, kc, vc},
                      {.name = p + "qkv_proj", .norm_weight = &in_norm, .norm_eps = eps});
    } else {
      norm_matmul(h, in_norm, qkv_w, qkv, p + "input_layernorm", p + "qkv_proj");
      rope_qkv_write(g, qkv, io.positions, table, q, kc, vc, p + "rope_kv");
    }
    const Tensor post_norm = L.post_norm.bind(g), gate_up_w = L.gate_up_w.bind(g), down_w = L.down_w.bind(g);
    const bool mlp_here = mlp_fused && post_norm.dtype == gate_up_w.dtype && down_w.dtype == gate_up_w.dtype;
    // A decode step can fold o_proj into the attention dispatch, which adds into h with
    // atomics and zeroes the other residual buffer; the MLP then writes h + MLP(h) there.
    const OutputProjection fold{L.o_w.bind(g), h, h_other};
    if (attention_decoder(g, {q, 0}, kc, vc, io.kv_start, att, io.pos0,
                          {.name = p + "attention", .o_proj = mlp_here && T == 1 && fold_o ? &fold : nullptr})) {
      mlp_decode(g, h, post_norm, eps, gate_up_w, down_w, h_other, p + "mlp", true);
      std::swap(h, h_other);
      continue;
    }
    if (mlp_here) {
      // o_proj leaves a snapshot of the residual stream that the one-dispatch MLP reads
      // while it adds its output into h.
      if (!h_snap.ref.valid()) h_snap = transient(g, DType::F32, {B * T, H}, "text.h_snapshot");
      matmul(g, reshape(att, {B * T, Hq * D}), L.o_w.bind(g), nullptr, h,
             {.accumulate = true, .name = p + "o_proj", .y_copy = &h_snap});
      mlp_decode(g, h_snap, post_norm, eps, gate_up_w, down_w, h, p + "mlp");
      continue;
    }
    matmul(g, reshape(att, {B * T, Hq * D}), L.o_w.bind(g), nullptr, h, {.accumulate = true, .name = p + "o_proj"});
    norm_matmul(h, post_norm, gate_up_w, gate_up, p + "post_attention_layernorm", p + "gate_up_proj");
    if (fuse) {
      matmul(g, gate_up, L.down_w.bind(g), nullptr, h,
             {.accumulate = true, .name = p + "down_proj", .swiglu_input = true});
    } else {
      swiglu(g, gate_up, act, p + "swiglu");
      matmul(g, act, L.down_w.bind(g), nullptr, h, {.accumulate = true, .name = p + "down_proj"});
    }
  }

  // Only each row's last position needs logits: gather those rows, then norm and lm_head.
  Tensor last = transient(g, DType::F32, {B, H}, "text.last");
  const Tensor final_norm = w.final_norm.bind(g), lm_head = w.lm_head.bind(g);
  if (T != 1) embedding(g, io.last_rows, h, last, "text.gather_last");
  const Tensor& rows = T == 1 ? h : last;
  if (B <= kMatVecFusedFastRows && final_norm.dtype == lm_head.dtype) {
    matmul(g, rows, lm_head, nullptr, io.logits, {.name = "text.lm_head", .norm_weight = &final_norm, .norm_eps = eps});
  } else {
    rms_norm(g, rows, final_norm, last, eps, "text.norm");
    matmul(g, last, lm_head, nullptr, io.logits, {.name = "text.lm_head"});
  }
  if (io.sampling.temperature > 0 && io.sampling.top_k != 1) {
    if (const auto* pw = std::get_if<ParamWord>(&io.step))
      sample(g, io.logits, io.next_ids, io.sampling, *pw, "text.sample");
    else
      sample(g, io.logits, io.next_ids, io.sampling, std::get<uint32_t>(io.step), "text.sample");
  } else {
    argmax(g, io.logits, io.next_ids, "text.argmax");
  }
}

}  // namespace smolvk
