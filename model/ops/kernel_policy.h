#pragma once
// Kernel choices that the model graphs ask about (rather than testing device capabilities
// themselves): the graphs state the math, these say how it is stored and fused on a device.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "model/ops/common.h"
#include "runtime/capabilities.h"

namespace smolvk::ops {

// The dtype of activations that only feed the tensor-core GEMM and attention (the vision
// encoder's LayerNorm outputs, fused qkv, attention output and GELU(fc1)) for `rows` token
// rows of `width` features in heads of `head_dim`: f16 where both kernels run on tensor cores
// for these shapes — they round their inputs to f16 anyway, so the result is the same and
// half the bytes move — else f32. SMOLVK_TUNE_HALF_ACTIVATIONS=0 keeps f32 (for measuring).
DType tensor_core_activation_dtype(const Capabilities& caps, int64_t rows, int64_t width, int64_t head_dim);

// The dtype the vision encoder's and connector's GEMM weights (and their biases; the patch
// embedding's too) are stored
// in on a device whose big GEMMs run on tensor cores: f16, what the kernel narrows every
// weight to on its way into the tensor cores. Converting once at load (bf16_to_f16_in_range)
// gives the same products without the per-slice conversion; a bf16 tensor with a value
// beyond f16's range stays bf16. Nullopt: keep the checkpoint's dtype (no tensor cores, or
// SMOLVK_TUNE_F16_WEIGHTS=0 for measuring).
std::optional<DType> tensor_core_weight_dtype(const Capabilities& caps);

// bf16 values as f16 (round to nearest even, as the GPU narrows: exact for |x| in
// [2^-14, 65504], subnormal below). False, with dst partly written, if a value is not finite
// or beyond 65504. src and dst may be the same array.
bool bf16_to_f16_in_range(const uint16_t* src, size_t n, uint16_t* dst);

}  // namespace smolvk::ops
