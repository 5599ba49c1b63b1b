#pragma once
// The decoder and vision graphs record their math here, op by op, as the model defines it;
// lower() turns the list into dispatches and is the one place that fuses neighbouring ops
// into one kernel, where the kernel policy (kernel_policy.h) says the fused kernel is the
// faster one at this row count on this device. The fusions (each equal to the ops it replaces):
//   linear(+ bias) → gelu                     GEMM with GELU in its epilogue (vision fc1)
//   rms_norm → linear                         mat-vec with the norm folded in
//   rms_norm → linear(qkv) → rope_qkv_write   mat-vec with norm, RoPE and the cache write
//   swiglu → linear                           mat-vec reading gate|up
//   linear(o, += h) → rms_norm(h) → linear(gate_up) → swiglu → linear(down, += h)
//                                             o_proj keeps a copy of h; the MLP in one dispatch
//   attention → that MLP block                attention applies o_proj too (float atomics) and
//                                             the MLP writes the residual stream to a second
//                                             buffer, which later ops then read as h
//   swiglu → linear (tensor cores)            the GEMM reads gate|up as silu(gate)·up
//   linear(whole rows) → rms_norm(its y)      where the GEMM splits K, its reduce pass also
//                                             writes the norm (matmul's then_norm)
// A fusion needs the intermediate tensors it skips to be transients that no later op reads.
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/ops/attention.h"
#include "model/ops/common.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/logits.h"

namespace smolvk::ops {

class OpList {
 public:
  OpList(Graph& g, KernelPolicy policy) : g_(g), policy_(std::move(policy)) {}

  // The math. Shapes and dtypes are checked when lower() records each kernel.
  void embedding(const Tensor& ids, const Tensor& table, const Tensor& out, const std::string& name);
  void splice(const Tensor& h, const Tensor& image_rows, const Tensor& targets, const std::string& name);
  void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out, const std::string& name);
  // y = x·wᵀ (+ bias) (+ y where accumulate)
  void linear(const Tensor& x, const Tensor& w, const Tensor& y, const std::string& name, bool accumulate = false,
              const Tensor* bias = nullptr);
  void gelu(const Tensor& x, const Tensor& out, const std::string& name);  // gelu_pytorch_tanh
  // The vision encoder's other ops (no fusion involves them yet).
  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps, const Tensor& out,
                  const std::string& name);
  void im2col(const Tensor& pixels, const Tensor& patches, int patch, const std::string& name,
              const Tensor* lut = nullptr);
  void add_position_embedding(const Tensor& h, const Tensor& table, const Tensor& ids, const std::string& name);
  // Non-causal attention within each tile: q, k, v are the head columns of `qkv` from
  // q_col, k_col, v_col (attention_encoder); softmax scale `scale` (0 = 1/√head dim).
  void attention_encoder(const Tensor& qkv, int64_t q_col, int64_t k_col, int64_t v_col, const Tensor& key_mask,
                         const Tensor& out, const std::string& name, float scale = 0.0f);
  void pixel_unshuffle(const Tensor& x, const Tensor& y, int scale, const std::string& name);
  void swiglu(const Tensor& gate_up, const Tensor& out, const std::string& name);
  void rope_qkv_write(const Tensor& qkv, const Tensor& positions, const Tensor& table, const Tensor& q,
                      const Tensor& k_cache, const Tensor& v_cache, const std::string& name);
  // Causal attention of q [B, T, Hq, D] over this layer's KV cache (attention_decoder).
  void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, const Tensor& kv_start,
                 const Tensor& out, const DeviceValue& pos0, const std::string& name);
  void argmax(const Tensor& logits, const Tensor& ids, const std::string& name);
  void sample(const Tensor& logits, const Tensor& ids, const SamplingParams& params, const DeviceValue& step,
              const std::string& name);
  void sample_row(const Tensor& logits, const Tensor& ids, int64_t row, const SamplingParams& params,
                  const ParamWord& step, const std::string& name);

  // Records every op as dispatches on the graph, fusing where the policy allows, and empties
  // the list.
  void lower();

  struct RmsNorm {
    Tensor x, w, out;
    float eps;
    std::string name;
  };
  struct Linear {
    Tensor x, w, y;
    bool accumulate;
    std::string name;
    std::optional<Tensor> bias;
  };
  struct Gelu {
    Tensor x, out;
    std::string name;
  };
  struct Swiglu {
    Tensor gate_up, out;
    std::string name;
  };
  struct Rope {
    Tensor qkv, positions, table, q, k, v;
    std::string name;
  };
  struct Attention {
    Tensor q, k, v, kv_start, out;
    DeviceValue pos0;
    std::string name;
  };
  // An op no fusion involves: its tensors (read, written) and how to record it.
  struct Plain {
    std::vector<Tensor> reads, writes;
    std::function<void(Graph&, const std::vector<Tensor>&, const std::vector<Tensor>&)> record;
  };
  using Op = std::variant<RmsNorm, Linear, Gelu, Swiglu, Rope, Attention, Plain>;

 private:
  // Each try_* records the fused kernel and returns the number of ops it covers, or 0.
  size_t try_decode_block(size_t i);
  bool is_mlp_block(size_t i) const;
  size_t try_mlp_block(size_t i);
  size_t try_norm_qkv_rope(size_t i);
  size_t try_norm_linear(size_t i);
  size_t try_swiglu_linear(size_t i);
  size_t try_linear_gelu(size_t i);
  size_t try_linear_norm(size_t i);
  // The RmsNorm at op j when it can follow linear `l` as matmul's then_norm (tensor-core rows
  // beyond the mat-vec fusions, whole f32 rows, the norm's weight of w's dtype), else null.
  const RmsNorm* then_norm_at(size_t j, const Linear& l) const;
  // Whether a linear of `rows` rows runs on the tensor-core GEMM (f32 x).
  bool tensor_core_rows(int64_t rows, const Tensor& w) const;  // for a linear over weight w
  void record_one(const Op& op);
  // Whether no op after `i` reads `t` before writing it, and `t` is scratch.
  bool dead_after(size_t i, const Tensor& t) const;
  bool fits_matvec(int64_t rows) const { return rows <= int64_t(policy_.fuse_matvec_max_rows); }
  bool fits_mlp_decode(int64_t rows) const;
  // From op `from` on, every use of tensor a means b and of b means a.
  void swap_from(size_t from, const Tensor& a, const Tensor& b);
  // The residual stream's second buffer (the decode block alternates between the two).
  Tensor other_residual(const Tensor& h);

  Graph& g_;
  KernelPolicy policy_;
  std::vector<Op> ops_;
  Tensor residual_copy_, residual_main_, residual_other_;  // made where a fusion first needs them
};

}  // namespace smolvk::ops
