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

uint32_t tuning(const char* name, uint32_t fallback) {
  const char* v = std::getenv(("SMOLVK_TUNE_" + std::string(name)).c_str());
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const unsigned long n = std::strtoul(v, &end, 10);
  return end && *end == '\0' ? uint32_t(n) : fallback;
}

void expect_kv_cache(const Tensor& k, const Tensor& v, const std::string& op) {
  expect(k.dtype == DType::F32 && k.shape.size() == 4 && v.dtype == DType::F32 && v.shape == k.shape, op,
         "k_cache and v_cache must both be f32 [B, Hkv, C, D], got " + shape_str(k) + " and " + shape_str(v));
}

}  // namespace smolvk::ops
