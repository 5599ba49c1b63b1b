#include "model/ops/kernel_policy.h"

#include "model/ops/attention_coopmat.h"
#include "model/ops/matmul.h"
#include "model/ops/matmul_ref.h"

namespace smolvk::ops {

DType tensor_core_activation_dtype(const Capabilities& caps, int64_t rows, int64_t width, int64_t head_dim) {
  const bool gemm = caps.use_coopmat && rows > kMatVecMaxRows;
  // The attention kernel reads heads as 4-element chunks at 16-byte aligned views.
  const bool attention = width % 8 == 0 && head_dim % 16 == 0 &&
                         attention_coopmat_kernel(caps, head_dim, {}, false, "attention").has_value();
  return gemm && attention && tuning("HALF_ACTIVATIONS", 1) != 0 ? DType::F16 : DType::F32;
}

std::optional<DType> tensor_core_weight_dtype(const Capabilities& caps) {
  if (!caps.use_coopmat || tuning("F16_WEIGHTS", 1) == 0) return std::nullopt;
  return DType::F16;
}

bool bf16_to_f16_in_range(const uint16_t* src, size_t n, uint16_t* dst) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t b = src[i], sign = (b & 0x8000u), e = (b >> 7) & 0xffu, m = b & 0x7fu;
    if (e >= 113 && e <= 142) {  // a normal f16: exact
      dst[i] = uint16_t(sign | ((e - 112) << 10) | (m << 3));
      continue;
    }
    if (e > 142) return false;  // beyond 65504 (65536 and up), inf or NaN
    dst[i] = f32_to_f16(bf16_to_f32(uint16_t(b)));  // subnormal or zero: rounds like the GPU
  }
  return true;
}

}  // namespace smolvk::ops
