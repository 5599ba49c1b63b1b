#include "model/ops/norm_common.h"

#include <algorithm>
#include <stdexcept>

namespace smolvk::ops {

WordView word_view(const Tensor& t, const Capabilities& caps) {
  const uint64_t align = std::max<uint64_t>(4, caps.min_storage_buffer_offset_alignment);
  const uint64_t start = t.ref.offset - t.ref.offset % align;
  const uint64_t end = t.ref.offset + t.bytes();
  WordView v;
  v.ref = {t.ref.resource, start, (end - start + 3) / 4 * 4};
  v.elem_offset = uint32_t((t.ref.offset - start) / dtype_size(t.dtype));
  return v;
}

std::string_view weight_dtype_suffix(DType t, std::string_view op) {
  if (t != DType::F32 && t != DType::F16 && t != DType::BF16)
    throw std::invalid_argument(std::string(op) + ": weight dtype " + std::string(dtype_name(t)) +
                                " is not f32, f16 or bf16");
  return dtype_name(t);
}

static uint32_t pow2_floor(uint32_t v) {
  uint32_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}

uint32_t row_workgroup(const Capabilities& caps, int64_t cols, uint32_t cap) {
  const uint32_t limit = pow2_floor(std::max<uint32_t>(1, std::min(cap, caps.max_workgroup_invocations)));
  uint32_t wg = 32;
  while (wg < limit && int64_t(wg) * 4 < cols) wg *= 2;  // ~4+ elements per invocation
  wg = std::max(wg, pow2_floor(std::max<uint32_t>(1, caps.subgroup_size)));
  return std::min(wg, limit);
}

uint32_t elementwise_workgroup(const Capabilities& caps) {
  return std::min<uint32_t>(256, pow2_floor(std::max<uint32_t>(1, caps.max_workgroup_invocations)));
}

void expect_dtype(const Tensor& t, DType want, std::string_view op, std::string_view what) {
  if (t.dtype != want)
    throw std::invalid_argument(std::string(op) + ": " + std::string(what) + " has dtype " +
                                std::string(dtype_name(t.dtype)) + ", expected " + std::string(dtype_name(want)));
}

void expect_u32(int64_t n, std::string_view op, std::string_view what) {
  if (n < 0 || n > int64_t(UINT32_MAX))
    throw std::invalid_argument(std::string(op) + ": " + std::string(what) + " (" + std::to_string(n) +
                                ") does not fit 32-bit indexing");
}

}  // namespace smolvk::ops
