#pragma once
// The checkpoint's weights on the device, uploaded once, in the checkpoint's dtype (bf16
// stays bf16) except the tensor-core GEMM weights upload_weights is told to convert. q/k/v are fused into one [q+k+v,
// in] matrix and gate/up into one [2I, in] so each is a single matmul.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "loader/config.h"
#include "loader/weights.h"
#include "model/ops/common.h"

namespace smolvk {

struct DeviceTensor {
  Buffer buffer;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // bytes into `buffer` (a view of part of it, e.g. some KV cache rows)
  ops::Tensor bind(Graph& g) const { return ops::external(g, buffer, dtype, shape, offset); }
  bool valid() const { return buffer.valid(); }
};

struct DeviceVisionLayer {
  DeviceTensor ln1_w, ln1_b, qkv_w, qkv_b, out_w, out_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
};
struct DeviceTextLayer {
  DeviceTensor input_norm, qkv_w, o_w, post_norm, gate_up_w, down_w;
};

struct DeviceWeights {
  DeviceTensor patch_w;  // [hidden, 3·p·p] (the conv weight flattened as (c, ky, kx))
  DeviceTensor patch_b, position_embedding, post_ln_w, post_ln_b;
  std::vector<DeviceVisionLayer> vision;
  DeviceTensor connector_w;                        // [text hidden, vision hidden · s²]
  DeviceTensor embed_tokens, final_norm, lm_head;  // lm_head shares embed's buffer when tied
  std::vector<DeviceTextLayer> text;
  uint64_t bytes = 0;
  uint64_t parameters = 0;
  // The head dim q, k, v's rows and out_proj's columns are laid out in (pad_heads): the
  // config's, or ops::vision_attention_head_dim's padding of it. Set by upload_weights and
  // Model::random's weights, which every DeviceWeights comes from.
  int64_t vision_head_dim = 0;
};

// Zero padding of attention heads in a 1-D or 2-D tensor: dim 0 (rows: a fused q|k|v weight
// [3·H·hd, in] or its bias) or dim 1 (columns: out_proj's weight [out, H·hd]) holds heads of
// `hd` that become `hdp` long, the new rows or columns zero.
struct HeadPadding {
  int dim = 0;
  int64_t hd = 0, hdp = 0;
};
// `src`'s values (elements of `elem` bytes) with `p` applied; `shape` is updated. Throws,
// naming the tensor, when the dim does not hold whole heads.
std::vector<uint8_t> pad_heads(const uint8_t* src, size_t elem, std::vector<int64_t>& shape, const HeadPadding& p,
                               const std::string& name);

// `gemm`: the dtype for the weights and biases of the vision encoder's and connector's linear
// layers (patch embedding included) (ops::tensor_core_weight_dtype), where bf16 converts without overflow; nullopt
// keeps every tensor in the checkpoint's dtype.
// `vision_head_dim`: the head dim of the vision attention's layout (ops::vision_attention_head_dim;
// 0 = the config's).
// `on_bytes(done)` after each tensor: the bytes of the checkpoint's tensors uploaded so far
// (a converted tensor counts its size in the file).
// `f32_as_bf16`: f32 tensors stored as bf16 (LoadOptions::f32_as_bf16); a tensor that `gemm`
// converts to f16 is converted from those bf16 values.
DeviceWeights upload_weights(Context& ctx, const ModelConfig& config, const WeightSet& w,
                             std::optional<DType> gemm = std::nullopt, int64_t vision_head_dim = 0,
                             const std::function<void(uint64_t done)>& on_bytes = {}, bool f32_as_bf16 = false);

}  // namespace smolvk
