#pragma once
// Row normalisations on the GPU, one workgroup per row of the last dimension.
#include <string>

#include "model/ops/common.h"

namespace smolvk::ops {

// HF Llama RMSNorm: y = weight · (x · rsqrt(mean(x²) + eps)). x, y: f32 [..., H] (y may be
// x itself); weight: [H] f32/f16/bf16.
void rms_norm(Graph& g, const Tensor& x, const Tensor& weight, const Tensor& y, float eps,
              const std::string& name = "rms_norm");

// nn.LayerNorm over the last dim (biased variance): y = (x − mean) · rsqrt(var + eps) · weight
// + bias. x, y: f32 [..., H] (y may be x); weight, bias: [H], same dtype, f32/f16/bf16.
// Both norms also write f16 y (the f32 result rounded; H even), e.g. for the tensor-core GEMM.
void layer_norm(Graph& g, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, float eps,
                const std::string& name = "layer_norm");

}  // namespace smolvk::ops
