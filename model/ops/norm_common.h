#pragma once
// Helpers shared by helper-E ops (norms, position embedding, elementwise, logits): binding a
// 16-bit tensor as 32-bit words, and workgroup sizes picked from the device.
#include <cstdint>
#include <string>
#include <string_view>

#include "model/ops/common.h"
#include "runtime/capabilities.h"

namespace smolvk::ops {

// A tensor bound as uint words: the binding starts at the tensor's offset rounded down to
// the device's storage-buffer offset alignment and ends at a 4-byte boundary; elem_offset is
// the tensor's first element inside that binding. A 16-bit tensor with an odd element count
// therefore needs 2 bytes of slack after it in its buffer (real checkpoints have even sizes).
struct WordView {
  TensorRef ref;
  uint32_t elem_offset = 0;
};
WordView word_view(const Tensor& t, const Capabilities& caps);

// "f32" / "f16" / "bf16" for a weight dtype; throws std::invalid_argument naming `op` else.
std::string_view weight_dtype_suffix(DType t, std::string_view op);

// Workgroup size (a power of two, >= the subgroup size) for one-workgroup-per-row reductions
// over `cols` elements, capped at `cap`.
uint32_t row_workgroup(const Capabilities& caps, int64_t cols, uint32_t cap = 256);
// Workgroup size for one-invocation-per-element kernels.
uint32_t elementwise_workgroup(const Capabilities& caps);

// Throws std::invalid_argument "<op>: <what> has dtype X, expected Y".
void expect_dtype(const Tensor& t, DType want, std::string_view op, std::string_view what);
// Throws if the count does not fit the 32-bit indices the shaders use.
void expect_u32(int64_t n, std::string_view op, std::string_view what);

}  // namespace smolvk::ops
