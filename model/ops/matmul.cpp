#include "model/ops/matmul.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "model/ops/kernel_policy.h"
#include "model/ops/matmul_split.h"
#include "model/ops/norm.h"
#include "model/ops/rope.h"

namespace smolvk::ops {
namespace {

struct MatmulPush {
  uint32_t M, N, K;
  uint32_t x_off, w_off, b_off, y_off, y_stride;
  uint32_t flags;                          // 1: bias, 2: accumulate
  uint32_t k_chunk = 0, split_stride = 0;  // split-K (matmul_coopmat.comp)
  uint32_t z_off = 0;                      // matmul_reduce.comp's fused RMSNorm
  float eps = 0.0f;
};

// matmul_vec.comp's push block (matmul_vec_rows, tiled and coopmat take MatmulPush).
struct MatVecPush {
  uint32_t M, N, K;
  uint32_t x_off, x_stride, w_off, b_off, nw_off, y_off, y_stride;
  uint32_t flags;  // 1: bias, 2: accumulate, 4: fused RMSNorm, 8: SwiGLU input, 16: RoPE
  float eps;
  uint32_t half_d = 0, Hq = 0, Hkv = 0, T = 0, C = 0, table_rows = 0;  // RoPE only
  uint32_t yc_off = 0;                                                 // flag 32 (a copy of Y) only
};

struct Kernel {
  std::string shader;
  std::vector<uint32_t> spec;
  uint32_t cols_per_group = 0;      // mat-vec
  bool matvec_push = false;         // matmul_vec.comp (MatVecPush) rather than MatmulPush
  uint32_t tile_m = 0, tile_n = 0;  // tiled
  uint32_t tile_k = 0;              // tensor-core GEMM: its K slice
};

constexpr uint32_t kReduceWorkgroup = 256;  // matmul_reduce.comp
constexpr const char* kCoopmat2Shader = "matmul_coopmat2_f16";

// Split-K for the tensor-core GEMM: {splits, K columns per split (a multiple of bk)}; {1, 0}
// when K stays whole. `tiles`: the grid's output tiles; `requested`: MatmulOptions::split_k.
std::pair<uint32_t, uint32_t> plan_split_k(const KernelPolicy& p, uint32_t requested, uint64_t tiles, uint64_t K,
                                           uint32_t bk) {
  const uint64_t slices = (K + bk - 1) / bk;
  uint64_t s = requested;
  if (!requested && p.gemm_split_groups && p.gemm_split_min_slices && tiles < p.gemm_split_groups &&
      slices >= 2ull * p.gemm_split_min_slices)
    s = std::min<uint64_t>((p.gemm_split_groups + tiles - 1) / tiles, slices / p.gemm_split_min_slices);
  s = std::clamp<uint64_t>(s, 1, std::min<uint64_t>(slices, 65535));
  if (s <= 1) return {1, 0};
  const uint64_t per = (slices + s - 1) / s;  // slices per split; no split left empty
  return {uint32_t((slices + per - 1) / per), uint32_t(per * bk)};
}

// matmul_vec_batch.comp for `rows` rows of N = `n_cols` columns (the policy's vec_batch_*
// settings, else these defaults): C = 4 columns per lane group (2 without subgroups), 2 weight
// units of 8 loaded ahead (1 for f32 weights), 256 invocations halved down to 2 subgroups (at
// least 32 invocations) while that leaves fewer than 128 workgroups, a K chunk of one round
// (units x 8 x lanes), smaller where the staged X does not fit shared memory. All rows in one
// pass up to 16, else even passes of at most 16. Nullopt if it cannot fit the device.
std::optional<Kernel> vec_batch_kernel(const Capabilities& caps, const KernelPolicy& p, int64_t rows, DType wt,
                                       uint64_t n_cols) {
  const uint32_t max_wg = std::bit_floor(std::max<uint32_t>(caps.max_workgroup_invocations, 1));
  const bool sg_path = caps.use_subgroup;
  const uint32_t sg = std::bit_ceil(std::max<uint32_t>(caps.subgroup_size, 1));
  const uint32_t passes = uint32_t((rows + 15) / 16);
  const uint32_t rb = uint32_t((rows + passes - 1) / passes);
  uint32_t c = p.vec_batch_cols ? std::min<uint32_t>(p.vec_batch_cols, 16) : (sg_path ? 4 : 2);
  const uint32_t wu = p.vec_batch_units ? std::min<uint32_t>(p.vec_batch_units, 8) : (wt == DType::F32 ? 1 : 2);
  // Power-of-two workgroups of 32 or more: gl_NumSubgroups is exact there (test_subgroup.cpp).
  const uint32_t min_wg = std::max<uint32_t>(32, sg_path ? sg : 1);
  if (min_wg > max_wg) return std::nullopt;
  uint32_t wg = std::clamp<uint32_t>(std::bit_floor(std::max<uint32_t>(p.vec_batch_workgroup, 1)), min_wg, max_wg);
  if (!p.vec_batch_workgroup) {
    wg = std::clamp<uint32_t>(sg_path ? 256 : 64, min_wg, max_wg);
    const uint32_t floor_wg = std::max(min_wg, sg_path ? 2 * sg : min_wg);
    while (sg_path && wg / 2 >= floor_wg && ceil_div(n_cols, uint64_t(wg / sg) * c) < 128) wg /= 2;
  }
  const auto shared = [&](uint32_t k) {
    return uint64_t(rb) * 2 * (k / 8 + 4) * 16 + (sg_path ? 0 : uint64_t(c) * rb * wg * 4);
  };
  // Without subgroups the reduction's shared array (C x rows x invocations) must fit too.
  while (!sg_path && shared(8) > caps.max_shared_memory && (wg > min_wg || c > 1))
    if (wg > min_wg)
      wg /= 2;
    else
      c /= 2;
  const uint32_t lanes = sg_path ? sg : wg;
  const uint32_t cpw = sg_path ? wg / sg * c : c;
  uint32_t kc = p.vec_batch_kc ? std::max<uint32_t>(8, p.vec_batch_kc / 8 * 8) : wu * 8 * lanes;
  while (kc > 8 && shared(kc) > caps.max_shared_memory) kc = std::max<uint32_t>(8, kc / 16 * 8);
  if (shared(kc) > caps.max_shared_memory) return std::nullopt;
  Kernel k;
  k.shader = std::string(sg_path ? "matmul_vec_batch_sg_" : "matmul_vec_batch_") + std::string(dtype_name(wt));
  k.spec = {wg, rb, c, cpw, kc, wu};
  k.cols_per_group = cpw;
  return k;
}

// `pairs`: lane groups must own two columns (the fused RoPE writes column pairs).
Kernel pick_kernel(const Capabilities& caps, int64_t rows, DType wt, const MatmulOptions& o, const std::string& who,
                   bool pairs = false, uint64_t n_cols = 0, bool x_half = false, bool y_half = false) {
  const std::string dt(dtype_name(wt));
  Kernel k;
  const bool fused = o.norm_weight || o.swiglu_input || o.y_copy || pairs;
  const bool tensor_cores = (caps.use_coopmat && !o.exact) || o.emulate_coopmat;
  // Of the fusions the tensor-core GEMM takes only the SwiGLU input (f32 x).
  const bool tc_fusable = !o.norm_weight && !o.y_copy && !pairs && !(o.swiglu_input && x_half);
  // matmul_rows.comp for plain matmuls of 17..64 rows: on the H100 it beat the one-column-
  // per-workgroup mat-vec at batch 32 (4.7 vs 6.3 ms per decode step) but lost at batch 8
  // (3.8 vs 2.4) and 16 (4.3 vs 3.1).
  const KernelPolicy policy = o.policy ? *o.policy : kernel_policy(caps);
  const bool rows_kernel = !fused && rows >= int64_t(policy.rows_kernel_min_rows) && rows <= kMatVecMaxRows;
  // The batched mat-vec where the policy turns it on, ahead of the rows kernel and the tensor
  // cores (not where a tensor-core tile or emulation is asked for).
  if (!fused && !o.emulate_coopmat && o.coopmat_tile.bm == 0 && rows <= kMatVecMaxRows &&
      rows > int64_t(policy.fuse_matvec_max_rows) && rows <= int64_t(policy.vec_batch_max_rows))
    if (const auto kb = vec_batch_kernel(caps, policy, rows, wt, n_cols)) return *kb;
  // The cooperative_matrix2 GEMM for large GEMMs on f16 X and W (a requested coopmat tile
  // keeps the other kernel). Its spec constants sit at the ids matmul_coopmat.comp gives the
  // same meaning (0-3 workgroup and tile, 8 Y_HALF), so the split-K path's edit applies to both.
  if (caps.use_coopmat2 && policy.coopmat2 && !o.exact && !o.emulate_coopmat && o.coopmat_tile.bm == 0 &&
      tc_fusable && !o.swiglu_input && x_half && wt == DType::F16 && rows > kMatVecMaxRows) {
    k.shader = kCoopmat2Shader;
    k.spec = {policy.cm2_workgroup, policy.cm2_bm, policy.cm2_bn, policy.cm2_bk, 0, 0, 0, 1, y_half ? 1u : 0u, 0};
    k.tile_m = policy.cm2_bm;
    k.tile_n = policy.cm2_bn;
    k.tile_k = policy.cm2_bk;
    return k;
  }
  // Few rows on tensor cores from the policy's coopmat_min_rows (32x32 tiles; on the H200 at
  // batch 32 a decode step took 4.23 ms against 4.73 with the rows kernel, at batch 8 3.92
  // against 2.36 before split K, 2.11 against 2.37 with it), or a requested tile.
  const bool few_rows_tc = tensor_cores && tc_fusable && rows <= kMatVecMaxRows &&
                           (o.coopmat_tile.bm != 0 || rows >= int64_t(policy.coopmat_min_rows));
  // f32 weights as f16 hi + lo where the policy asks (matmul_coopmat.comp's W_SPLIT).
  const bool split_w = wt == DType::F32 && policy.split_f32_weights != 0;
  if (few_rows_tc || (rows > kMatVecMaxRows && tensor_cores && tc_fusable))
    if (const auto cm = coopmat_kernel(o.emulate_coopmat ? emulated_coopmat_caps(caps) : caps, o.coopmat_tile, who,
                                       rows, x_half, split_w)) {
      k.shader = (o.emulate_coopmat ? "matmul_coopmat_emu_" : "matmul_coopmat_") + dt + (split_w ? "split" : "");
      if (!o.emulate_coopmat && caps.use_coopmat2 && policy.coopmat_khr && wt == DType::F16)
        k.shader = "matmul_coopmat_khr_f16";  // (the opt-in enables VK_KHR_cooperative_matrix)
      k.spec = cm->spec(x_half, y_half);
      if (policy.gemm_ablate && !o.emulate_coopmat && wt == DType::F16) {
        k.shader = "matmul_coopmat_abl_f16";
        k.spec.resize(13, 0);
        k.spec[12] = policy.gemm_ablate;
      }
      k.tile_m = cm->tile.bm;
      k.tile_n = cm->tile.bn;
      k.tile_k = cm->tile.bk;
      return k;
    }
  if (rows <= kMatVecMaxRows) {
    const uint32_t rb = std::bit_ceil(uint32_t(rows));
    const uint32_t max_wg = std::bit_floor(std::max<uint32_t>(caps.max_workgroup_invocations, 1));
    if (rows_kernel) {
      // All rows of a few columns per workgroup, X staged in shared memory: enough columns per
      // workgroup to share each X chunk, few enough that large GPUs get ~256 workgroups.
      const uint32_t wg = std::min<uint32_t>(std::clamp<uint32_t>(rb * 8, 64, 256), max_wg);
      if (wg >= rb) {
        const uint32_t cg = wg / rb;
        const uint64_t want = uint64_t(n_cols) / (uint64_t(cg) * 256);
        const uint32_t cpt = policy.rows_cols_per_thread
                                 ? policy.rows_cols_per_thread
                                 : uint32_t(std::clamp<uint64_t>(std::bit_floor(std::max<uint64_t>(want, 1)), 1, 4));
        uint32_t kc = 256;
        while (kc > 8 && uint64_t(rb) * (kc + 4) * 4 > caps.max_shared_memory / 2) kc /= 2;
        k.shader = "matmul_rows_" + dt;
        k.spec = {wg, rb, cg * cpt, kc};
        k.cols_per_group = cg * cpt;
        return k;
      }
    }
    if (!fused && rows > int64_t(policy.fuse_matvec_max_rows)) {
      // Plain several-row mat-vec: one workgroup per column (two at RB <= 2).
      const uint32_t cols = rb <= 2 ? 2 : 1;
      uint32_t wg = std::min(std::max<uint32_t>(64, std::bit_ceil(caps.subgroup_size)), max_wg);
      while (wg > 1 && uint64_t(cols) * rb * wg * 4 > caps.max_shared_memory) wg /= 2;
      k.shader = std::string(caps.use_subgroup ? "matmul_vec_rows_sg_" : "matmul_vec_rows_") + dt;
      k.spec = {wg, rb, cols};
      k.cols_per_group = cols;
      return k;
    }
    k.matvec_push = true;
    if (caps.use_subgroup) {
      // Each subgroup owns `cols` columns at a time; 4 subgroups (of 32) per workgroup give
      // N / 4 workgroups at batch 1, enough to spread a 576-column layer over 132 SMs.
      // Wider rows share each X load between two columns.
      const uint32_t sg = std::bit_ceil(std::max<uint32_t>(caps.subgroup_size, 1));
      const uint32_t wg = std::min(std::max<uint32_t>(policy.matvec_workgroup, sg), max_wg);
      const uint32_t cols = pairs || (rb > 2 && rb < 64) ? 2 : 1;
      const uint32_t per_group = std::max<uint32_t>(1, wg / sg) * cols;
      k.shader = "matmul_vec_sg_" + dt;
      k.spec = {wg, rb, cols, per_group};
      k.cols_per_group = per_group;
    } else {
      const uint32_t cols = rb <= 2 || pairs ? 2 : 1;
      uint32_t wg = std::min<uint32_t>(64, max_wg);
      while (wg > 1 && uint64_t(cols + 1) * rb * wg * 4 > caps.max_shared_memory) wg /= 2;
      k.shader = "matmul_vec_" + dt;
      k.spec = {wg, rb, cols, cols};
      k.cols_per_group = cols;
    }
    return k;
  }
  // 64x64x16 tiles, 4x4 outputs per thread on 256 threads; 32x32 on 64 threads where the
  // device offers fewer invocations or less shared memory.
  uint32_t bm = 64, bk = 16, t = 4;
  auto shared_bytes = [&](uint32_t b) { return 2ull * bk * (b + 1) * 4; };
  if (caps.max_workgroup_invocations < (bm / t) * (bm / t) || shared_bytes(bm) > caps.max_shared_memory) bm = 32;
  const uint32_t wg = (bm / t) * (bm / t);
  k.shader = "matmul_tiled_" + dt;
  k.spec = {wg, bm, bm, bk, t, t};
  k.tile_m = k.tile_n = bm;
  return k;
}

}  // namespace

std::string matmul_kernel_choice(const Capabilities& caps, int64_t rows, uint64_t n_cols, DType wt, bool x_half,
                                 uint64_t weight_bytes) {
  KernelPolicy policy = kernel_policy(caps);
  if (weight_bytes && n_cols &&
      !vec_batch_weight(policy, weight_bytes, weight_bytes / (n_cols * std::max<uint64_t>(dtype_size(wt), 1))))
    policy.vec_batch_max_rows = 0;
  const Kernel k = pick_kernel(caps, rows, wt, {.policy = &policy}, "matmul", false, n_cols, x_half);
  return kernel_str(k.shader, k.spec);
}

void matmul(Graph& g, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y, const MatmulOptions& o) {
  const std::string label = o.name.empty() ? "matmul" : o.name;
  const std::string who = "matmul '" + label + "'";
  auto fail = [&](const std::string& why) {
    std::string s = who + ": " + why + " (x " + shape_str(x) + ", w " + shape_str(w);
    if (bias) s += ", bias " + shape_str(*bias);
    throw std::invalid_argument(s + ", y " + shape_str(y) + ")");
  };
  if (x.shape.empty() || w.shape.size() != 2 || y.shape.empty()) fail("expected x rank >= 1, w [N, K], y rank >= 1");
  if ((x.dtype != DType::F32 && x.dtype != DType::F16) || (y.dtype != DType::F32 && y.dtype != DType::F16))
    fail("x and y must be f32 or f16");
  if (o.gelu && o.accumulate) fail("gelu and accumulate do not combine");
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16) fail("w must be f32, f16 or bf16");
  const int64_t M = x.rows(), x_cols = x.dim(-1), N = w.dim(0), y_cols = y.dim(-1);
  const int64_t K = o.swiglu_input ? x_cols / 2 : x_cols;
  if (M <= 0 || K <= 0 || N <= 0) fail("empty dimension");
  if (o.swiglu_input && x_cols % 2 != 0) fail("swiglu_input needs x's last dim even (gate | up halves)");
  if (w.dim(1) != K)
    fail(o.swiglu_input ? "w's second dim must equal half of x's last dim (swiglu_input)"
                        : "w's second dim must equal x's last dim");
  if (o.y_copy && (o.y_copy->dtype != DType::F32 || o.y_copy->shape != y.shape))
    fail("y_copy must be f32 of y's shape, got " + shape_str(*o.y_copy));
  if ((o.norm_weight || o.y_copy) && M > kMatVecMaxRows)
    fail("fused RMSNorm needs at most " + std::to_string(kMatVecMaxRows) + " rows of x");
  if (o.then_norm_out || o.then_norm_weight) {
    const Tensor* nw = o.then_norm_weight;
    const Tensor* z = o.then_norm_out;
    if (!nw || !z) fail("then_norm needs both its weight and its output");
    if (y.dtype != DType::F32 || o.y_col != 0 || N != y_cols) fail("then_norm needs whole f32 rows of y");
    if (nw->dtype != w.dtype || nw->numel() != N)
      fail("then_norm's weight must be [N] of w's dtype, got " + shape_str(*nw));
    if (z->dtype != DType::F32 || z->dim(-1) != N || z->rows() != M || !std::isfinite(o.then_norm_eps) ||
        o.then_norm_eps < 0.0f)
      fail("then_norm's output must be f32 [rows, N] and its eps finite and >= 0, got " + shape_str(*z));
  }
  if (o.norm_weight) {
    if (o.norm_weight->dtype != w.dtype || o.norm_weight->numel() != K)
      fail("norm_weight must be [K] of w's dtype, got " + shape_str(*o.norm_weight));
    if (!(o.norm_eps >= 0.0f) || !std::isfinite(o.norm_eps))
      fail("norm_eps must be finite and >= 0, got " + std::to_string(o.norm_eps));
  }
  if (y.rows() != M) fail("y must have as many rows as x");
  if (o.y_col < 0 || o.y_col + N > y_cols)
    fail("columns [" + std::to_string(o.y_col) + ", " + std::to_string(o.y_col + N) + ") do not fit y's " +
         std::to_string(y_cols) + " columns");
  if (bias && (bias->dtype != w.dtype || bias->numel() != N)) fail("bias must be [N] of w's dtype");
  for (const Tensor* t : {&x, &w, &y, bias, o.norm_weight, o.then_norm_weight, o.then_norm_out})
    if (t && (!t->ref.valid() || t->ref.size < t->bytes())) fail("a tensor's buffer range is smaller than its shape");
  if (uint64_t(M) * uint64_t(y_cols) >= (1ull << 32) || uint64_t(M) * uint64_t(x_cols) >= (1ull << 32))
    fail("x or y has 2^32 elements or more");

  const Capabilities& caps = g.context().caps();
  KernelPolicy policy = o.policy ? *o.policy : kernel_policy(caps);
  // The batched mat-vec only for weights of the policy's size.
  MatmulOptions opts = o;
  if (!vec_batch_weight(policy, w.bytes(), uint64_t(K))) {
    policy.vec_batch_max_rows = 0;
    opts.policy = &policy;
  }
  // f16 X and Y are for the tensor-core GEMM only (which narrows f32 X to f16 anyway).
  const bool x_half = x.dtype == DType::F16, y_half = y.dtype == DType::F16;
  if ((x_half || y_half) && !(M > kMatVecMaxRows && ((caps.use_coopmat && !o.exact) || o.emulate_coopmat)))
    fail("f16 x or y needs the tensor-core GEMM: more than " + std::to_string(kMatVecMaxRows) +
         " rows on a device with cooperative matrices");
  if (y_half && (o.accumulate || N % 2 || o.y_col % 2 || y_cols % 2))
    fail("f16 y needs an even N, y_col and row length, and no accumulate");
  const uint64_t ys = dtype_size(y.dtype);
  const uint64_t xs = dtype_size(x.dtype);
  const uint64_t align = std::max<uint64_t>(1, caps.min_storage_buffer_offset_alignment);
  uint64_t limit = std::min<uint64_t>(caps.max_storage_buffer_range, 0xffffffffull);
  if (o.max_chunk_bytes) limit = std::min(limit, o.max_chunk_bytes);
  const uint64_t ws = dtype_size(w.dtype);
  const uint64_t w_row = uint64_t(K) * ws;
  const uint32_t flags = (bias ? 1u : 0u) | (o.accumulate ? 2u : 0u) | (o.norm_weight ? 4u : 0u) |
                         (o.swiglu_input ? 8u : 0u) | (o.y_copy ? 32u : 0u) | (o.gelu ? 64u : 0u);

  // Rows of X (and Y) per dispatch: both bindings fit the limit even when misaligned.
  const uint64_t xy_row = std::max<uint64_t>(uint64_t(x_cols) * xs, uint64_t(y_cols) * ys);
  const uint64_t slack = align - 1 + 3;  // misalignment + bind_aligned's word rounding
  if (limit <= slack || (limit - slack) / xy_row == 0)
    fail("one row of x or y does not fit a binding of " + std::to_string(limit) + " bytes");
  const int64_t m_step = int64_t(std::min<uint64_t>((limit - slack) / xy_row, 65535ull * 32));

  bool norm_fused = o.then_norm_out != nullptr;  // every row chunk's reduce pass wrote Z
  for (int64_t m0 = 0; m0 < M; m0 += m_step) {
    const int64_t mc = std::min(m_step, M - m0);
    Kernel kern = pick_kernel(caps, mc, w.dtype, opts, who, false, uint64_t(N), x_half, y_half);
    // The cooperative_matrix2 GEMM loads rows of whole 16-byte units: X's rows and W's start
    // at 16-byte boundaries and K a multiple of 8; anything else takes the other GEMM.
    if (kern.shader == kCoopmat2Shader &&
        (K % 8 != 0 || (x.ref.offset + uint64_t(m0 * x_cols) * xs) % 16 != 0 || w.ref.offset % 16 != 0)) {
      KernelPolicy off = policy;
      off.coopmat2 = 0;
      MatmulOptions o2 = opts;
      o2.policy = &off;
      kern = pick_kernel(caps, mc, w.dtype, o2, who, false, uint64_t(N), x_half, y_half);
    }
    if ((x_half || y_half) && kern.shader.rfind("matmul_coopmat", 0) != 0)
      fail("f16 x or y needs the tensor-core GEMM, but a chunk of " + std::to_string(mc) + " rows picked " +
           kern.shader);
    if (o.swiglu_input && !kern.matvec_push && !kern.tile_k)
      fail("swiglu_input needs the mat-vec kernel (at most " + std::to_string(kMatVecMaxRows) +
           " rows) or the tensor-core GEMM, but " + std::to_string(mc) + " rows picked " + kern.shader);
    bool chunk_norm = false;  // this row chunk's Z written by its reduce pass
    const AlignedBinding xb =
        bind_aligned(x.ref, uint64_t(m0 * x_cols) * xs, uint64_t(mc * x_cols) * xs, align, xs, who);
    for (int64_t n0 = 0; n0 < N;) {
      const uint64_t w_start = w.ref.offset + uint64_t(n0) * w_row;
      int64_t nc = int64_t(rows_per_binding(w_start, w_row, uint64_t(N - n0), limit, align, who));
      if (kern.tile_n) nc = std::min<int64_t>(nc, 65535ll * kern.tile_n);
      const AlignedBinding wb = bind_aligned(w.ref, uint64_t(n0) * w_row, uint64_t(nc) * w_row, align, ws, who);
      const uint64_t y_first = uint64_t(m0 * y_cols + o.y_col + n0);
      const uint64_t y_end = uint64_t((m0 + mc - 1) * y_cols + o.y_col + n0 + nc);
      const AlignedBinding yb = bind_aligned(y.ref, y_first * ys, (y_end - y_first) * ys, align, ys, who);
      if (y_half && yb.elem_offset % 2) fail("f16 y must start at an even element of its buffer");

      Dispatch d{.name = label, .op = "matmul", .shader = kern.shader, .spec = kern.spec};
      d.bindings = {
          {xb.ref, Access::Read}, {wb.ref, Access::Read}, {yb.ref, o.accumulate ? Access::ReadWrite : Access::Write}};
      uint32_t b_off = 0;
      if (bias) {
        const AlignedBinding bb = bind_aligned(bias->ref, uint64_t(n0) * ws, uint64_t(nc) * ws, align, ws, who);
        d.bindings.push_back({bb.ref, Access::Read});
        b_off = bb.elem_offset;
      }
      if (kern.matvec_push) {
        MatVecPush p{uint32_t(mc),     uint32_t(nc),     uint32_t(K), xb.elem_offset,
                     uint32_t(x_cols), wb.elem_offset,   b_off,       0,
                     yb.elem_offset,   uint32_t(y_cols), flags,       o.norm_eps};
        if (o.norm_weight) {
          const AlignedBinding nb = bind_aligned(o.norm_weight->ref, 0, uint64_t(K) * ws, align, ws, who);
          if (!bias) d.bindings.push_back({nb.ref, Access::Read});  // binding 3 unused
          d.bindings.push_back({nb.ref, Access::Read});
          p.nw_off = nb.elem_offset;
        }
        if (o.y_copy) {
          while (d.bindings.size() < 5) d.bindings.push_back({g.params(), Access::Read});  // unused slots
          const AlignedBinding cb = bind_aligned(o.y_copy->ref, y_first * 4, (y_end - y_first) * 4, align, 4, who);
          d.bindings.push_back({cb.ref, Access::Write});
          p.yc_off = cb.elem_offset;
        }
        d.set_push(p);
      } else if (kern.tile_k) {
        const auto [splits, k_chunk] =
            plan_split_k(policy, o.split_k, ceil_div(uint64_t(nc), kern.tile_n) * ceil_div(uint64_t(mc), kern.tile_m),
                         uint64_t(K), kern.tile_k);
        if (splits > 1 && uint64_t(splits) * mc * nc * 4 <= limit) {
          // K in `splits` chunks on workgroup z, partial sums into a transient [splits, mc, nc],
          // added in order (+ bias, GELU, Y) by matmul_reduce; with then_norm over whole rows
          // (W not split into column chunks) one workgroup per row also writes Z.
          const bool row_norm = o.then_norm_out && n0 == 0 && nc == N;
          const Tensor part = transient(g, DType::F32, {int64_t(splits), mc, nc}, label + ".split_k");
          const AlignedBinding pb = bind_aligned(part.ref, 0, part.bytes(), align, 4, who);
          Dispatch r{.name = label,
                     .op = "matmul",
                     .shader = "matmul_reduce_" + std::string(dtype_name(w.dtype)),
                     .spec = {kReduceWorkgroup, y_half ? 1u : 0u, row_norm ? 1u : 0u}};
          r.bindings = {{pb.ref, Access::Read}, {wb.ref, Access::Read}, d.bindings[2]};
          if (bias) r.bindings.push_back(d.bindings[3]);
          const uint32_t slice = uint32_t(mc * nc);
          MatmulPush rp{uint32_t(mc),     uint32_t(nc), splits, pb.elem_offset, 0, b_off, yb.elem_offset,
                        uint32_t(y_cols), flags & 67u,  0,      slice};
          const uint64_t outputs = uint64_t(mc) * nc / (y_half ? 2 : 1);
          r.groups = grid_1d(std::min<uint64_t>(ceil_div(outputs, kReduceWorkgroup), 65535));
          r.flops = double(splits) * double(mc * nc);
          r.bytes = double(splits) * double(mc * nc) * 4.0 + double(mc * nc) * double(ys) * (o.accumulate ? 2 : 1);
          if (row_norm) {
            const AlignedBinding nb =
                bind_aligned(o.then_norm_weight->ref, 0, uint64_t(N) * ws, align, ws, who + " (then_norm weight)");
            const AlignedBinding zb =
                bind_aligned(o.then_norm_out->ref, uint64_t(m0 * N) * 4, uint64_t(mc * N) * 4, align, 4, who);
            r.bindings[1] = {nb.ref, Access::Read};
            r.bindings[2].access = Access::ReadWrite;                 // the finished rows are read back for the norm
            if (!bias) r.bindings.push_back({nb.ref, Access::Read});  // binding 3 unused
            r.bindings.push_back({zb.ref, Access::Write});
            rp.w_off = nb.elem_offset;
            rp.z_off = zb.elem_offset;
            rp.eps = o.then_norm_eps;
            r.groups = grid_1d(uint64_t(mc));
            r.bytes += double(mc * N) * 8.0;
            chunk_norm = true;
          }
          r.set_push(rp);

          d.spec = kern.spec;
          d.spec[8] = 0;  // the partial sums are f32
          d.bindings = {{xb.ref, Access::Read}, {wb.ref, Access::Read}, {pb.ref, Access::Write}};
          d.set_push(MatmulPush{uint32_t(mc), uint32_t(nc), uint32_t(K), xb.elem_offset, wb.elem_offset, 0,
                                pb.elem_offset, uint32_t(nc), flags & 8u, k_chunk, slice});  // (SwiGLU input)
          d.groups = {ceil_div(uint64_t(nc), kern.tile_n), ceil_div(uint64_t(mc), kern.tile_m), splits};
          d.flops = 2.0 * double(mc) * double(nc) * double(K);
          d.bytes =
              double(mc * x_cols) * double(xs) + double(nc) * double(w_row) + double(splits) * double(mc * nc) * 4.0;
          g.add(std::move(d));
          g.add(std::move(r));
          n0 += nc;
          continue;  // (chunk_norm stays as the reduce pass left it)
        }
        d.set_push(MatmulPush{uint32_t(mc), uint32_t(nc), uint32_t(K), xb.elem_offset, wb.elem_offset, b_off,
                              yb.elem_offset, uint32_t(y_cols), flags});
      } else {
        d.set_push(MatmulPush{uint32_t(mc), uint32_t(nc), uint32_t(K), xb.elem_offset, wb.elem_offset, b_off,
                              yb.elem_offset, uint32_t(y_cols), flags});
      }
      if (kern.cols_per_group)
        d.groups = grid_1d(ceil_div(uint64_t(nc), kern.cols_per_group));
      else
        d.groups = {ceil_div(uint64_t(nc), kern.tile_n), ceil_div(uint64_t(mc), kern.tile_m), 1};
      d.flops = 2.0 * double(mc) * double(nc) * double(K) + (bias ? double(mc * nc) : 0.0) +
                (o.accumulate ? double(mc * nc) : 0.0);
      d.bytes = double(mc * x_cols) * double(xs) + (o.norm_weight ? double(K) * double(ws) : 0.0) +
                double(nc) * double(w_row) + double(mc * nc) * double(ys) * (o.accumulate ? 2 : 1) +
                (bias ? double(nc) * double(ws) : 0.0);
      g.add(std::move(d));
      n0 += nc;
    }
    if (!chunk_norm) norm_fused = false;
  }
  if (o.then_norm_out && !norm_fused)
    rms_norm(g, reshape(y, {M, N}), *o.then_norm_weight, reshape(*o.then_norm_out, {M, N}), o.then_norm_eps,
             o.then_norm_name.empty() ? label + ".norm" : o.then_norm_name);
}

void matmul_rope_qkv(Graph& g, const Tensor& x, const Tensor& w, const RopeQkvWrite& r, const MatmulOptions& o) {
  const std::string who = "matmul_rope_qkv '" + (o.name.empty() ? std::string("qkv") : o.name) + "'";
  const RopeQkvShape s = check_rope_qkv(r.q_out, r.positions, r.table, r.k_cache, r.v_cache, who);
  const int64_t M = x.rows(), K = x.dim(-1), N = (s.Hq + 2 * s.Hkv) * s.D;
  expect(x.dtype == DType::F32 && M == s.B * s.T, who,
         "x must be f32 with B·T = " + std::to_string(s.B * s.T) + " rows, got " + shape_str(x));
  expect(M <= kMatVecMaxRows, who, "at most " + std::to_string(kMatVecMaxRows) + " rows, got " + std::to_string(M));
  expect((w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16) && w.shape.size() == 2 &&
             w.dim(0) == N && w.dim(1) == K,
         who,
         "w must be [(Hq + 2·Hkv)·D, K] = [" + std::to_string(N) + ", " + std::to_string(K) +
             "] of f32/f16/bf16, got " + shape_str(w));
  const uint64_t ws = dtype_size(w.dtype);
  if (o.norm_weight)
    expect(o.norm_weight->dtype == w.dtype && o.norm_weight->numel() == K && std::isfinite(o.norm_eps) &&
               o.norm_eps >= 0.0f,
           who, "norm_weight must be [K] of w's dtype with a finite eps >= 0, got " + shape_str(*o.norm_weight));
  const Capabilities& caps = g.context().caps();
  const uint64_t align = std::max<uint64_t>(1, caps.min_storage_buffer_offset_alignment);
  for (const Tensor* t : {&x, &w, &r.q_out, &r.k_cache, &r.v_cache, &r.positions, &r.table, o.norm_weight})
    expect(!t || (t->ref.valid() && t->ref.size >= t->bytes() && t->bytes() <= caps.max_storage_buffer_range), who,
           "every tensor must fit one binding of maxStorageBufferRange");
  check_u32(x.numel(), who, "x");

  const Kernel kern = pick_kernel(caps, M, w.dtype, o, who, true);
  const AlignedBinding xb = bind_aligned(x.ref, 0, x.bytes(), align, 4, who);
  const AlignedBinding wb = bind_aligned(w.ref, 0, w.bytes(), align, ws, who);
  const AlignedBinding yb = bind_aligned(r.q_out.ref, 0, r.q_out.bytes(), align, 4, who);
  Dispatch d{.name = o.name.empty() ? "qkv" : o.name, .op = "matmul", .shader = kern.shader, .spec = kern.spec};
  d.bindings = {
      {xb.ref, Access::Read}, {wb.ref, Access::Read}, {yb.ref, Access::Write}, {r.v_cache.ref, Access::Write}};
  MatVecPush p{uint32_t(M),
               uint32_t(N),
               uint32_t(K),
               xb.elem_offset,
               uint32_t(K),
               wb.elem_offset,
               0,
               0,
               yb.elem_offset,
               uint32_t(s.Hq * s.D),
               16u | (o.norm_weight ? 4u : 0u),
               o.norm_eps,
               uint32_t(s.D / 2),
               uint32_t(s.Hq),
               uint32_t(s.Hkv),
               uint32_t(s.T),
               uint32_t(s.C),
               uint32_t(s.P)};
  if (o.norm_weight) {
    const AlignedBinding nb = bind_aligned(o.norm_weight->ref, 0, uint64_t(K) * ws, align, ws, who);
    d.bindings.push_back({nb.ref, Access::Read});
    p.nw_off = nb.elem_offset;
  } else {
    d.bindings.push_back({g.params(), Access::Read});  // binding 4 unused
  }
  d.bindings.push_back({r.positions.ref, Access::Read});
  d.bindings.push_back({r.table.ref, Access::Read});
  d.bindings.push_back({r.k_cache.ref, Access::Write});
  d.set_push(p);
  d.groups = grid_1d(ceil_div(uint64_t(N), kern.cols_per_group));
  d.flops = 2.0 * double(M) * double(N) * double(K) + 6.0 * double(M) * double(s.Hq + s.Hkv) * double(s.D / 2);
  d.bytes = double(x.bytes()) + double(w.bytes()) + 4.0 * double(M) * double(N);
  g.add(std::move(d));
}

}  // namespace smolvk::ops
