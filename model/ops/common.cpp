#include "model/ops/common.h"

#include <cstdlib>

namespace smolvk::ops {

std::string kernel_str(const std::string& shader, const std::vector<uint32_t>& spec) {
  std::string s = shader + " [";
  for (size_t i = 0; i < spec.size(); ++i) s += (i ? "," : "") + std::to_string(spec[i]);
  return s + "]";
}

std::string shape_str(const Tensor& t) {
  std::string s = std::string(dtype_name(t.dtype)) + "[";
  for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
  return s + "]";
}

void expect(bool ok, const std::string& op, const std::string& what) {
  if (!ok) throw std::invalid_argument(op + ": " + what);
}

void check_u32(int64_t n, const std::string& op, const std::string& what) {
  expect(n >= 0 && n < (int64_t(1) << 32), op,
         what + " has " + std::to_string(n) + " elements, more than 32-bit indexing allows");
}

void expect_kv_cache(const Tensor& k, const Tensor& v, const std::string& op) {
  expect(k.dtype == DType::F32 && k.shape.size() == 4 && v.dtype == DType::F32 && v.shape == k.shape, op,
         "k_cache and v_cache must both be f32 [B, Hkv, C, D], got " + shape_str(k) + " and " + shape_str(v));
}

}  // namespace smolvk::ops
