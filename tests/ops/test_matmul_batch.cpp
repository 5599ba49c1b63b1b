// The batched mat-vec (shaders/matmul_vec_batch.comp, kernel policy vec_batch_*) against
// ops::matmul_ref: row counts of a decode batch, K a multiple of 8 (16-byte weight loads) and
// not (the scalar path), weights starting off a 16-byte boundary, N not a multiple of the
// workgroup's columns, several K chunks with a partial last one, bias, GELU and accumulate.
// f16/bf16 weights are rounded once and the reference is fed the rounded values, so every
// dtype is held to max |gpu − ref| / max |ref| ≤ 1e-4 (NaN, Inf or a size mismatch fail).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/ops/activation_ref.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/matmul.h"
#include "model/ops/matmul_ref.h"
#include "tests/ops/matmul_test_inputs.h"
#include "tests/ops/op_test_util.h"
#include "tests/test_util.h"

using namespace smolvk;
using ops::Tensor;

namespace {

constexpr double kTol = 1e-4;

struct Case {
  int64_t M, N, K;
  DType wt = DType::BF16;
  bool bias = false, accumulate = false, gelu = false;
  uint64_t x_byte_offset = 0, w_byte_offset = 0;
  int64_t y_cols = 0, y_col = 0;  // 0 = N
};

std::string describe(const Case& c) {
  return "M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K) + " " +
         std::string(dtype_name(c.wt)) + (c.bias ? " +bias" : "") + (c.accumulate ? " +acc" : "") +
         (c.gelu ? " +gelu" : "") + " x at +" + std::to_string(c.x_byte_offset) + " B, w at +" +
         std::to_string(c.w_byte_offset) + " B";
}

// The batched mat-vec from 2 rows up to 64, on top of this device's policy (the test may
// change its shape settings).
ops::KernelPolicy batch_policy() {
  ops::KernelPolicy p = ops::kernel_policy(test::context().caps());
  p.vec_batch_max_rows = 64;
  p.vec_batch_min_weight_mib = 0;  // the tests' small weights too
  p.vec_batch_min_k = 0;
  p.fuse_matvec_max_rows = 1;
  return p;
}

struct Result {
  double err = 0;
  std::string problem;            // compare_problem(ref, got)
  bool untouched_exact = true;    // columns outside [y_col, y_col + N) kept
  std::vector<std::string> shaders;  // every recorded dispatch's
};

Result run_case(const Case& c, const ops::KernelPolicy& policy) {
  Context& ctx = test::context();
  const int64_t y_cols = c.y_cols ? c.y_cols : c.N;
  const test::MatmulInputs in =
      test::make_matmul_inputs(ctx, c.M, c.N, c.K, y_cols, c.wt, c.x_byte_offset, c.w_byte_offset, 3);
  Graph g(ctx);
  const Tensor tx = ops::external(g, in.bx, DType::F32, {c.M, c.K}, c.x_byte_offset);
  const Tensor tw = ops::external(g, in.bw, c.wt, {c.N, c.K}, c.w_byte_offset);
  const Tensor tb = ops::external(g, in.bb, c.wt, {c.N});
  const Tensor ty = ops::external(g, in.by, DType::F32, {c.M, y_cols});
  ops::matmul(g, tx, tw, c.bias ? &tb : nullptr, ty,
              {.accumulate = c.accumulate, .gelu = c.gelu, .name = "batch", .y_col = c.y_col, .policy = &policy});
  Result r;
  for (const Dispatch& d : g.dispatches()) r.shaders.push_back(d.shader);
  Program p = g.compile();
  p.run();
  std::vector<float> got(in.y0.size());
  ctx.download(in.by, got.data(), got.size() * 4);

  std::vector<float> ref = in.y0;
  ops::matmul_ref(in.x, in.pw.rounded, c.bias ? std::span<const float>(in.pb.rounded) : std::span<const float>{}, ref,
                  c.M, c.N, c.K, c.accumulate, y_cols, c.y_col);
  if (c.gelu)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = c.y_col; n < c.y_col + c.N; ++n) {
        float& e = ref[size_t(m * y_cols + n)];
        e = ops::ref::gelu_tanh(std::span<const float>(&e, 1))[0];
      }
  r.problem = test::compare_problem(ref, got);
  r.err = test::max_rel_error(ref, got);
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < y_cols; ++n)
      if ((n < c.y_col || n >= c.y_col + c.N) && got[size_t(m * y_cols + n)] != in.y0[size_t(m * y_cols + n)])
        r.untouched_exact = false;
  return r;
}

void expect_batch_kernel(const Case& c, const ops::KernelPolicy& policy = batch_policy()) {
  const Result r = run_case(c, policy);
  EXPECT_TRUE(r.problem.empty()) << describe(c) << ": " << r.problem;
  EXPECT_LE(r.err, kTol) << describe(c);
  EXPECT_TRUE(r.untouched_exact) << describe(c);
  ASSERT_FALSE(r.shaders.empty()) << describe(c);
  for (const std::string& s : r.shaders) EXPECT_EQ(s.rfind("matmul_vec_batch", 0), 0u) << describe(c) << ": ran " << s;
}

const DType kAllTypes[] = {DType::F32, DType::F16, DType::BF16};
const int64_t kRows[] = {2, 3, 5, 8, 13, 16};

}  // namespace

// K a multiple of 8 (16-byte weight loads) and not, for every dtype and row count; N not a
// multiple of the workgroup's columns; K past the first chunk with a partial last one.
TEST(MatmulBatch, RowCountsAndShapesAllDtypes) {
  for (DType t : kAllTypes)
    for (int64_t M : kRows) {
      expect_batch_kernel({M, 37, 64, t});
      expect_batch_kernel({M, 70, 67, t, true, false});
      expect_batch_kernel({M, 101, 264, t, true, true});
      expect_batch_kernel({M, 29, 333, t, false, true});
    }
}

// Weights starting 2 or 4 bytes (and 8, for half weights still not 16) past a 16-byte
// boundary take the scalar path; X at an odd element offset is staged element by element.
TEST(MatmulBatch, MisalignedWeightsAndInput) {
  for (DType t : kAllTypes)
    for (uint64_t w_off : {uint64_t(t == DType::F32 ? 4 : 2), uint64_t(8)})
      for (int64_t M : {3, 8, 16}) {
        expect_batch_kernel({.M = M, .N = 45, .K = 136, .wt = t, .bias = true, .w_byte_offset = w_off});
        expect_batch_kernel(
            {.M = M, .N = 45, .K = 136, .wt = t, .accumulate = true, .x_byte_offset = 4, .w_byte_offset = w_off});
      }
}

// More rows than one pass (16): two or more passes over the weights.
TEST(MatmulBatch, SeveralPasses) {
  for (int64_t M : {17, 40, 64}) expect_batch_kernel({M, 70, 96, DType::BF16, true, true});
}

// GELU in the epilogue and a column-range write into a wider Y.
TEST(MatmulBatch, GeluAndColumnRange) {
  expect_batch_kernel({.M = 8, .N = 70, .K = 48, .wt = DType::BF16, .bias = true, .gelu = true});
  expect_batch_kernel({.M = 5, .N = 23, .K = 40, .wt = DType::F16, .accumulate = true, .y_cols = 53, .y_col = 17});
}

// Other shapes of the kernel than the defaults: odd columns per lane group, small K chunks
// (several per row of W) and one larger than a round of loads covers (its further rounds load
// in place), one or three weight units ahead, a narrow and a wide workgroup.
TEST(MatmulBatch, KernelShapeSettings) {
  struct Shape {
    uint32_t cols, wg, kc, units;
  };
  for (const Shape s : {Shape{1, 0, 16, 1}, Shape{3, 32, 40, 3}, Shape{8, 0, 0, 1}, Shape{2, 256, 64, 2},
                       Shape{2, 64, 512, 1}}) {
    ops::KernelPolicy p = batch_policy();
    p.vec_batch_cols = s.cols;
    p.vec_batch_workgroup = s.wg;
    p.vec_batch_kc = s.kc;
    p.vec_batch_units = s.units;
    SCOPED_TRACE("cols " + std::to_string(s.cols) + " wg " + std::to_string(s.wg) + " kc " + std::to_string(s.kc) +
                 " units " + std::to_string(s.units));
    for (DType t : {DType::F32, DType::BF16}) {
      expect_batch_kernel({6, 77, 200, t, true, true}, p);
      expect_batch_kernel({16, 35, 67, t, false, true, false, 0, uint64_t(t == DType::F32 ? 4 : 2)}, p);
    }
  }
}

// The setting routes plain matmuls of 8 rows to the kernel (policy object and SMOLVK_TUNE_
// name alike); off they go elsewhere, and so do the fused mat-vec's 1 and 2 rows. (Off is
// lavapipe's default; NVIDIA's row of the table turns it on, checked below.)
TEST(MatmulBatch, PolicyRoutesOnlyWhenOn) {
  Capabilities caps = test::context().caps();
  caps.tuning = {{"VEC_BATCH_ROWS", 0}};
  const ops::KernelPolicy def = ops::kernel_policy(caps);
  EXPECT_EQ(def.vec_batch_max_rows, 0u);
  const std::string off = ops::matmul_kernel_choice(caps, 8, 4096, DType::BF16);
  EXPECT_EQ(off.rfind("matmul_vec_batch", 0), std::string::npos) << off;
  const Result r = run_case({8, 40, 64, DType::BF16}, def);
  ASSERT_FALSE(r.shaders.empty());
  EXPECT_EQ(r.shaders[0].rfind("matmul_vec_batch", 0), std::string::npos) << r.shaders[0];

  // Only weights of vec_batch_min_weight_mib (32 MiB by default) and up, with rows of
  // vec_batch_min_k (4096) values: a 40 x 64 one stays elsewhere.
  caps.tuning = {{"VEC_BATCH_ROWS", 16}};
  const Result small = run_case({8, 40, 64, DType::BF16}, ops::kernel_policy(caps));
  ASSERT_FALSE(small.shaders.empty());
  EXPECT_EQ(small.shaders[0].rfind("matmul_vec_batch", 0), std::string::npos) << small.shaders[0];
  caps.tuning = {{"VEC_BATCH_ROWS", 16}, {"VEC_BATCH_MIN_MIB", 0}, {"VEC_BATCH_MIN_K", 64}};
  const ops::KernelPolicy on = ops::kernel_policy(caps);
  EXPECT_EQ(on.vec_batch_max_rows, 16u);
  for (int64_t M : {3, 8, 16}) {
    const std::string choice = ops::matmul_kernel_choice(caps, M, 4096, DType::BF16);
    EXPECT_EQ(choice.rfind("matmul_vec_batch", 0), 0u) << M << " rows: " << choice;
  }
  for (int64_t M : {1, 2, 17}) {  // the fused mat-vec's rows (policy's fuse_matvec_max_rows) and past the limit
    const std::string choice = ops::matmul_kernel_choice(caps, M, 4096, DType::BF16);
    EXPECT_EQ(choice.rfind("matmul_vec_batch", 0), std::string::npos) << M << " rows: " << choice;
  }
  expect_batch_kernel({8, 40, 64, DType::BF16}, on);
  // K one short of the rule: elsewhere again.
  caps.tuning = {{"VEC_BATCH_ROWS", 16}, {"VEC_BATCH_MIN_MIB", 0}, {"VEC_BATCH_MIN_K", 65}};
  const Result short_k = run_case({8, 40, 64, DType::BF16}, ops::kernel_policy(caps));
  ASSERT_FALSE(short_k.shaders.empty());
  EXPECT_EQ(short_k.shaders[0].rfind("matmul_vec_batch", 0), std::string::npos) << short_k.shaders[0];
  // NVIDIA's row of the table: up to 8 rows, for weights of 32 MiB and more with K >= 4096
  // (Idefics3-8B's every weight; SmolVLM2-2.2B's down_proj; none of SmolVLM-256M's).
  Capabilities nv;
  nv.vendor_id = 0x10de;
  const ops::KernelPolicy nvp = ops::kernel_policy(nv);
  EXPECT_EQ(nvp.vec_batch_max_rows, 8u);
  EXPECT_EQ(nvp.vec_batch_min_weight_mib, 32u);
  EXPECT_EQ(nvp.vec_batch_min_k, 4096u);
  EXPECT_TRUE(ops::vec_batch_weight(nvp, 48ull << 20, 4096));    // 8B qkv_proj
  EXPECT_TRUE(ops::vec_batch_weight(nvp, 32ull << 20, 8192));    // 2.2B down_proj
  EXPECT_FALSE(ops::vec_batch_weight(nvp, 64ull << 20, 2048));   // 2.2B gate_up_proj
  EXPECT_FALSE(ops::vec_batch_weight(nvp, 54ull << 20, 576));    // 256M lm_head
  EXPECT_FALSE(ops::vec_batch_weight(nvp, 31ull << 20, 16384));  // under 32 MiB
}
