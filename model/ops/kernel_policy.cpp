#include "model/ops/kernel_policy.h"

#include <algorithm>
#include <stdexcept>

#include "model/ops/attention_coopmat.h"
#include "model/ops/matmul.h"
#include "model/ops/matmul_ref.h"

namespace smolvk::ops {
namespace {

struct Setting {
  const char* name;  // SMOLVK_TUNE_<name>
  uint32_t KernelPolicy::*field;
};
constexpr Setting kSettings[] = {
    {"FUSE_MATVEC_MAX_ROWS", &KernelPolicy::fuse_matvec_max_rows},
    {"MLP_DECODE_MAX_ROWS", &KernelPolicy::mlp_decode_max_rows},
    {"OPROJ_FOLD", &KernelPolicy::fold_o_proj},
    {"OPROJ_FOLD_MAX_KIB", &KernelPolicy::fold_o_proj_max_kib},
    {"ROWS_MIN", &KernelPolicy::rows_kernel_min_rows},
    {"COOPMAT_MIN_ROWS", &KernelPolicy::coopmat_min_rows},
    {"ROWS_CPT", &KernelPolicy::rows_cols_per_thread},
    {"MATVEC_WG", &KernelPolicy::matvec_workgroup},
    {"VEC_BATCH_ROWS", &KernelPolicy::vec_batch_max_rows},
    {"VEC_BATCH_MIN_MIB", &KernelPolicy::vec_batch_min_weight_mib},
    {"VEC_BATCH_MIN_K", &KernelPolicy::vec_batch_min_k},
    {"VEC_BATCH_COLS", &KernelPolicy::vec_batch_cols},
    {"VEC_BATCH_WG", &KernelPolicy::vec_batch_workgroup},
    {"VEC_BATCH_KC", &KernelPolicy::vec_batch_kc},
    {"VEC_BATCH_UNITS", &KernelPolicy::vec_batch_units},
    {"DECODE_SPLIT_KEYS", &KernelPolicy::decode_split_min_keys},
    {"HALF_ACTIVATIONS", &KernelPolicy::half_activations},
    {"HALF_GEMM_INPUTS_MIN_TILES", &KernelPolicy::half_gemm_inputs_min_tiles},
    {"F16_WEIGHTS", &KernelPolicy::f16_weights},
    {"SPLIT_F32_WEIGHTS", &KernelPolicy::split_f32_weights},
    {"FUSE_LINEAR_GELU", &KernelPolicy::fuse_linear_gelu},
    {"ATTN_FLASH", &KernelPolicy::attention_flash},
    {"ATTN_FLASH_SUBGROUPS", &KernelPolicy::flash_subgroups},
    {"ATTN_FLASH_KEYS", &KernelPolicy::flash_keys},
    {"ATTN_FLASH_ROW_FRAGS", &KernelPolicy::flash_row_frags},
    {"PAD_VISION_HEADS", &KernelPolicy::pad_vision_heads},
    {"GEMM_BM", &KernelPolicy::gemm_bm},
    {"GEMM_BN", &KernelPolicy::gemm_bn},
    {"GEMM_BK", &KernelPolicy::gemm_bk},
    {"GEMM_WM", &KernelPolicy::gemm_wm},
    {"GEMM_WN", &KernelPolicy::gemm_wn},
    {"GEMM_STAGES", &KernelPolicy::gemm_stages},
    {"GEMM_SLOTS", &KernelPolicy::gemm_slots},
    {"VISION_CHUNK", &KernelPolicy::vision_chunk_tiles},
    {"GEMM_SPLIT_GROUPS", &KernelPolicy::gemm_split_groups},
    {"GEMM_SPLIT_MIN_SLICES", &KernelPolicy::gemm_split_min_slices},
    {"FUSE_GEMM_INPUTS", &KernelPolicy::fuse_gemm_inputs},
    {"GEMM_ABLATE", &KernelPolicy::gemm_ablate},
    {"COOPMAT2", &KernelPolicy::coopmat2},
    {"CM2_WG", &KernelPolicy::cm2_workgroup},
    {"CM2_BM", &KernelPolicy::cm2_bm},
    {"CM2_BN", &KernelPolicy::cm2_bn},
    {"CM2_BK", &KernelPolicy::cm2_bk},
    {"COOPMAT_KHR", &KernelPolicy::coopmat_khr},
};

// NVIDIA: every threshold here was measured on the H100 / H200 (the comments where each is
// used say what against what): batch 1-2 decode steps fold norms, SwiGLU, RoPE, o_proj and the
// whole MLP into mat-vecs; from 32 rows the tensor cores take plain GEMMs.
KernelPolicy nvidia_policy() {
  KernelPolicy p;
  p.device_class = "nvidia";
  // With split K the tensor cores win from 8 rows (the H200 at batch 8: 2.11 against 2.37 ms
  // per decode step on the several-row kernels).
  p.coopmat_min_rows = 8;
  // 8 subgroups per mat-vec workgroup: the H200's batch-1 step 0.941 against 0.980 ms with 4
  // (medians of 3, one machine; SMOLVK_TUNE_MATVEC_WG=128 for the old width).
  p.matvec_workgroup = 256;
  // Batch 2-8 decode on the batched mat-vec for large weights with long rows (vec_batch_min_weight_mib,
  // vec_batch_min_k): the
  // H200's Idefics3-8B batch-8 step 22.1 -> 15.7 ms/step with it on every weight.
  p.vec_batch_max_rows = 8;
  return p;
}

// CPU drivers (lavapipe): every fusion, as on NVIDIA (fewer dispatches; CI runs them here).
KernelPolicy cpu_policy() {
  KernelPolicy p = nvidia_policy();
  p.device_class = "cpu";
  p.coopmat_min_rows = KernelPolicy{}.coopmat_min_rows;
  p.vec_batch_max_rows = 0;  // its tests set it (tests/ops/test_matmul_batch.cpp)
  return p;
}

// Any other GPU (unmeasured): the fusions that only fold work into one mat-vec, but not the
// two that add partial sums with float atomics (o_proj in the attention kernel, the
// one-dispatch MLP), whose speed varies most between vendors.
KernelPolicy default_policy() {
  KernelPolicy p = nvidia_policy();
  p.device_class = "default";
  p.coopmat_min_rows = KernelPolicy{}.coopmat_min_rows;
  p.vec_batch_max_rows = 0;
  p.fold_o_proj = 0;
  p.mlp_decode_max_rows = 0;
  return p;
}

KernelPolicy class_policy(const Capabilities& caps) {
  if (!caps.profile.empty()) return default_policy();  // a device profile stands for another vendor's GPU
  if (caps.vendor_id == 0x10de) return nvidia_policy();
  if (caps.device_type == "cpu") return cpu_policy();
  return default_policy();
}

}  // namespace

KernelPolicy kernel_policy(const Capabilities& caps) {
  KernelPolicy p = class_policy(caps);
  for (const auto& [name, value] : caps.tuning) {
    const Setting* s = nullptr;
    for (const auto& k : kSettings)
      if (name == k.name) s = &k;
    if (!s) {
      std::string known;
      for (const auto& k : kSettings) known += std::string(known.empty() ? "" : ", ") + k.name;
      throw std::invalid_argument("SMOLVK_TUNE_" + name + ": no such kernel setting (known: " + known + ")");
    }
    p.*(s->field) = value;
  }
  return p;
}

std::vector<std::string> KernelPolicy::describe() const {
  std::vector<std::string> out;
  const KernelPolicy base = device_class == "nvidia" ? nvidia_policy()
                            : device_class == "cpu"  ? cpu_policy()
                                                     : default_policy();
  for (const auto& k : kSettings) {
    const bool overridden = this->*(k.field) != base.*(k.field);
    out.push_back(std::string(k.name) + " = " + std::to_string(this->*(k.field)) +
                  (overridden ? "  (SMOLVK_TUNE_" + std::string(k.name) + ")" : ""));
  }
  return out;
}

DType tensor_core_activation_dtype(const Capabilities& caps, int64_t rows, int64_t width, int64_t head_dim) {
  const bool gemm = caps.use_coopmat && rows > kMatVecMaxRows;
  // The attention kernel reads heads as 4-element chunks at 16-byte aligned views.
  const bool attention = width % 8 == 0 && head_dim % 16 == 0 &&
                         attention_coopmat_kernel(caps, head_dim, {}, false, "attention").has_value();
  return gemm && attention && kernel_policy(caps).half_activations != 0 ? DType::F16 : DType::F32;
}

bool vec_batch_weight(const KernelPolicy& p, uint64_t weight_bytes, uint64_t k) {
  return p.vec_batch_max_rows > 0 && weight_bytes >= (uint64_t(p.vec_batch_min_weight_mib) << 20) &&
         k >= p.vec_batch_min_k;
}

int64_t vision_attention_head_dim(const Capabilities& caps, int64_t head_dim) {
  const uint32_t pad = kernel_policy(caps).pad_vision_heads;
  const int64_t padded = (head_dim + 15) / 16 * 16;
  if (pad == 0 || padded == head_dim || head_dim <= 0) return head_dim;
  if (pad >= 2) return padded;
  const auto tensor_cores = [&](int64_t d) {
    return caps.use_coopmat && attention_coopmat_kernel(caps, d, {}, false, "attention").has_value();
  };
  return !tensor_cores(head_dim) && tensor_cores(padded) ? padded : head_dim;
}

DType tensor_core_gemm_input_dtype(const Capabilities& caps, int64_t rows, int64_t width) {
  if (!caps.use_coopmat || rows <= kMatVecMaxRows) return DType::F32;
  const KernelPolicy p = kernel_policy(caps);
  const uint64_t tiles = uint64_t((rows + 127) / 128) * uint64_t((std::max<int64_t>(width, 0) + 127) / 128);
  return p.half_activations != 0 && tiles >= p.half_gemm_inputs_min_tiles ? DType::F16 : DType::F32;
}

std::optional<DType> tensor_core_weight_dtype(const Capabilities& caps) {
  if (!caps.use_coopmat || kernel_policy(caps).f16_weights == 0) return std::nullopt;
  return DType::F16;
}

bool bf16_to_f16_in_range(const uint16_t* src, size_t n, uint16_t* dst) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t b = src[i], sign = (b & 0x8000u), e = (b >> 7) & 0xffu, m = b & 0x7fu;
    if (e >= 113 && e <= 142) {  // a normal f16: exact
      dst[i] = uint16_t(sign | ((e - 112) << 10) | (m << 3));
      continue;
    }
    if (e > 142) return false;                      // beyond 65504 (65536 and up), inf or NaN
    dst[i] = f32_to_f16(bf16_to_f32(uint16_t(b)));  // subnormal or zero: rounds like the GPU
  }
  return true;
}

}  // namespace smolvk::ops
