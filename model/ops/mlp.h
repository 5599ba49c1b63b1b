#pragma once
// The Llama MLP block of a decode step in one dispatch (shaders/mlp_decode.comp):
//   h += W_down · (silu(g) · u),  (g | u) = W_gate_up · RMSNorm(x)
// with partial sums over the intermediate units added into h with float atomics.
#include <string>

#include "model/ops/common.h"

namespace smolvk::ops {

// Rows the fused kernel takes at most (decode steps of batch 1 or 2).
inline constexpr int64_t kMlpDecodeMaxRows = 2;

// Whether mlp_decode runs here: the device has f32 atomic add (caps.use_float_atomics) and
// x has at most kMlpDecodeMaxRows rows.
bool mlp_decode_available(const Capabilities& caps, int64_t rows);

//   x          f32 [M, H]   the residual stream before this block (must not alias h)
//   norm_w     [H]          RMSNorm weight (of the weights' dtype), eps its epsilon
//   gate_up_w  [2I, H]      gate rows then up rows (f32, f16 or bf16)
//   down_w     [H, I]       same dtype
//   h          f32 [M, H]   gets the block's output added (h = x beforehand for a Llama layer;
//                           with add_x, h is zero beforehand and gets x + the output)
// Throws std::invalid_argument on shapes, dtypes, or where !mlp_decode_available.
void mlp_decode(Graph& g, const Tensor& x, const Tensor& norm_w, float eps, const Tensor& gate_up_w,
                const Tensor& down_w, const Tensor& h, const std::string& name = "mlp", bool add_x = false);

}  // namespace smolvk::ops
