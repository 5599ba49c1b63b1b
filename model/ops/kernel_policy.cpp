#include "model/ops/kernel_policy.h"

#include "model/ops/attention_coopmat.h"
#include "model/ops/matmul.h"

namespace smolvk::ops {

DType tensor_core_activation_dtype(const Capabilities& caps, int64_t rows, int64_t width, int64_t head_dim) {
  const bool gemm = caps.use_coopmat && rows > kMatVecMaxRows;
  // The attention kernel reads heads as 4-element chunks at 16-byte aligned views.
  const bool attention = width % 8 == 0 && head_dim % 16 == 0 &&
                         attention_coopmat_kernel(caps, head_dim, {}, false, "attention").has_value();
  return gemm && attention && tuning("HALF_ACTIVATIONS", 1) != 0 ? DType::F16 : DType::F32;
}

}  // namespace smolvk::ops
