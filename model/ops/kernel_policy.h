#pragma once
// Kernel choices that the model graphs ask about (rather than testing device capabilities
// themselves): the graphs state the math, these say how it is stored and fused on a device.
#include <cstdint>

#include "model/ops/common.h"
#include "runtime/capabilities.h"

namespace smolvk::ops {

// The dtype of activations that only feed the tensor-core GEMM and attention (the vision
// encoder's LayerNorm outputs, fused qkv, attention output and GELU(fc1)) for `rows` token
// rows of `width` features in heads of `head_dim`: f16 where both kernels run on tensor cores
// for these shapes — they round their inputs to f16 anyway, so the result is the same and
// half the bytes move — else f32. SMOLVK_TUNE_HALF_ACTIVATIONS=0 keeps f32 (for measuring).
DType tensor_core_activation_dtype(const Capabilities& caps, int64_t rows, int64_t width, int64_t head_dim);

}  // namespace smolvk::ops
