// Llama decoder (SmolLM2): prefill of T tokens per batch row, or one decode step (T = 1).
#include <algorithm>

#include "model/graphs.h"
#include "model/ops/op_list.h"

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
  // Which kernels run these ops, fused or not, is OpList::lower's choice (op_list.h).
  OpList ops(g, kernel_policy(g.context().caps()));

  // With given input embeddings the residual stream runs in their (per-call) buffer.
  Tensor h = io.embeds ? *io.embeds : transient(g, DType::F32, {B * T, H}, "text.h");
  if (!io.embeds) ops.embedding(io.ids, w.embed_tokens.bind(g), h, "text.embed_tokens");
  if (io.image_rows) ops.splice(h, *io.image_rows, *io.image_targets, "text.splice_images");

  // The residual stream h is f32; the normed inputs of qkv_proj and gate_up_proj and the
  // SwiGLU output that only feed GEMMs may be stored as f16 (what tensor cores take anyway).
  const DType gemm_in = tensor_core_gemm_input_dtype(g.context().caps(), B * T, H);
  Tensor x = transient(g, gemm_in, {B * T, H}, "text.x");
  Tensor qkv = transient(g, DType::F32, {B * T, (Hq + 2 * Hkv) * D}, "text.qkv");
  Tensor q = transient(g, DType::F32, {B, T, Hq, D}, "text.q");
  Tensor att = transient(g, DType::F32, {B, T, Hq, D}, "text.attn");
  Tensor gate_up = transient(g, DType::F32, {B * T, 2 * t.intermediate_size}, "text.gate_up");
  Tensor act = transient(g, gemm_in, {B * T, t.intermediate_size}, "text.act");
  const Tensor table = rope_table.bind(g);
  for (size_t i = 0; i < w.text.size(); ++i) {
    const DeviceTextLayer& L = w.text[i];
    const std::string p = "text.L" + std::to_string(i) + ".";
    const Tensor kc = kv.k[i].bind(g), vc = kv.v[i].bind(g);
    // h += o_proj(attention(rope(qkv_proj(rms_norm(h)))))
    ops.rms_norm(h, L.input_norm.bind(g), eps, x, p + "input_layernorm");
    ops.linear(x, L.qkv_w.bind(g), qkv, p + "qkv_proj");
    ops.rope_qkv_write(qkv, io.positions, table, q, kc, vc, p + "rope_kv");
    ops.attention(q, kc, vc, io.kv_start, att, io.pos0, p + "attention");
    ops.linear(reshape(att, {B * T, Hq * D}), L.o_w.bind(g), h, p + "o_proj", /*accumulate=*/true);
    // h += down_proj(swiglu(gate_up_proj(rms_norm(h))))
    ops.rms_norm(h, L.post_norm.bind(g), eps, x, p + "post_attention_layernorm");
    ops.linear(x, L.gate_up_w.bind(g), gate_up, p + "gate_up_proj");
    ops.swiglu(gate_up, act, p + "swiglu");
    ops.linear(act, L.down_w.bind(g), h, p + "down_proj", /*accumulate=*/true);
  }

  // Only each row's last position needs logits: those rows, then norm and lm_head.
  Tensor last = h;
  if (T != 1) {
    last = transient(g, DType::F32, {B, H}, "text.last");
    ops.embedding(io.last_rows, h, last, "text.gather_last");
  }
  Tensor normed = transient(g, DType::F32, {B, H}, "text.final_norm");
  ops.rms_norm(last, w.final_norm.bind(g), eps, normed, "text.norm");
  ops.linear(normed, w.lm_head.bind(g), io.logits, "text.lm_head");
  if (io.row_sampling.empty()) {
    if (samples(io.sampling))
      ops.sample(io.logits, io.next_ids, io.sampling, io.step, "text.sample");
    else
      ops.argmax(io.logits, io.next_ids, "text.argmax");
  } else {
    // Greedy rows by one argmax over all rows; each sampling row then overwrites its own id.
    if (!std::all_of(io.row_sampling.begin(), io.row_sampling.end(), samples))
      ops.argmax(io.logits, io.next_ids, "text.argmax");
    for (int64_t b = 0; b < B; ++b)
      if (samples(io.row_sampling[size_t(b)]))
        ops.sample_row(io.logits, io.next_ids, b, io.row_sampling[size_t(b)],
                       {io.row_steps.params, io.row_steps.index + uint32_t(b)}, "text.sample");
  }
  ops.lower();
}

}  // namespace smolvk
