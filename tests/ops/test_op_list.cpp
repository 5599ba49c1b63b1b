// ops::OpList, the decoder's fusion pass: three Llama layers (so the residual stream moves
// between its two buffers both ways), the final norm and lm_head, recorded once as math and
// lowered under kernel policies that allow each fusion or none. Each policy must record the
// kernels it promises (checked by shader and op name) and give the unfused logits and KV
// cache: max |Δ| / max |ref| ≤ 1e-5 (f32 throughout; atomics add in any order).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "model/ops/mlp.h"
#include "model/ops/op_list.h"
#include "model/ops/rope.h"
#include "tests/ops/op_test_util.h"
#include "tests/test_util.h"

using namespace smolvk;
using ops::Tensor;

namespace {

constexpr int64_t kH = 64, kHq = 4, kHkv = 2, kD = 16, kI = 40, kVocab = 50, kCap = 16, kLayers = 3;
constexpr float kEps = 1e-5f;

struct Weights {
  std::vector<Buffer> input_norm, qkv, o, post_norm, gate_up, down;
  Buffer final_norm, lm_head, table;
};

Weights make_weights(Context& ctx) {
  Weights w;
  uint32_t seed = 100;
  auto up = [&](size_t n, float lo, float hi) { return test::upload(ctx, test::random_uniform(n, seed++, lo, hi)); };
  for (int64_t l = 0; l < kLayers; ++l) {
    w.input_norm.push_back(up(kH, 0.5f, 1.5f));
    w.qkv.push_back(up((kHq + 2 * kHkv) * kD * kH, -0.3f, 0.3f));
    w.o.push_back(up(kH * kHq * kD, -0.3f, 0.3f));
    w.post_norm.push_back(up(kH, 0.5f, 1.5f));
    w.gate_up.push_back(up(2 * kI * kH, -0.3f, 0.3f));
    w.down.push_back(up(kH * kI, -0.3f, 0.3f));
  }
  w.final_norm = up(kH, 0.5f, 1.5f);
  w.lm_head = up(kVocab * kH, -0.3f, 0.3f);
  w.table = test::upload(ctx, ops::rope_table(kCap, int(kD), 10000.0, nullptr));
  return w;
}

struct Outcome {
  std::vector<float> logits, k_cache;
  std::vector<std::string> kernels;  // "op:shader" of every dispatch, in order
};

// One decode step of B rows at position pos0 over a cache whose first pos0 slots hold
// random keys and values, lowered under `policy`; the normed GEMM inputs and the SwiGLU output
// stored in `gemm_in` (the text graph's tensor_core_gemm_input_dtype).
Outcome decode_step(const ops::KernelPolicy& policy, int64_t B, const Weights& w, DType gemm_in = DType::F32) {
  Context& ctx = test::context();
  const int64_t pos0 = 5;
  const uint64_t cache_elems = uint64_t(B * kHkv * kCap * kD);
  std::vector<Buffer> kc, vc;
  for (int64_t l = 0; l < kLayers; ++l) {
    kc.push_back(test::upload(ctx, test::random_uniform(cache_elems, 200 + uint32_t(l))));
    vc.push_back(test::upload(ctx, test::random_uniform(cache_elems, 300 + uint32_t(l))));
  }
  Buffer h0 = test::upload(ctx, test::random_uniform(size_t(B * kH), 7, -2.0f, 2.0f));
  Buffer positions = test::upload(ctx, std::vector<int32_t>(size_t(B), int32_t(pos0)));
  std::vector<int32_t> starts(size_t(B), 0);
  starts.back() = 2;  // the last row is left-padded
  Buffer kv_start = test::upload(ctx, starts), logits = ctx.create_buffer(uint64_t(B * kVocab) * 4);

  Graph g(ctx);
  auto ext = [&](const Buffer& b, std::vector<int64_t> shape) {
    return ops::external(g, b, DType::F32, std::move(shape));
  };
  ops::OpList list(g, policy);
  const Tensor h = ext(h0, {B, kH});
  const Tensor x = ops::transient(g, gemm_in, {B, kH}),
               qkv = ops::transient(g, DType::F32, {B, (kHq + 2 * kHkv) * kD});
  const Tensor q = ops::transient(g, DType::F32, {B, 1, kHq, kD}), att = ops::transient(g, DType::F32, {B, 1, kHq, kD});
  const Tensor gu = ops::transient(g, DType::F32, {B, 2 * kI}), act = ops::transient(g, gemm_in, {B, kI});
  const Tensor table = ext(w.table, {kCap, kD / 2, 2}), pos = ops::external(g, positions, DType::I32, {B});
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "L" + std::to_string(l) + ".";
    const Tensor k = ext(kc[size_t(l)], {B, kHkv, kCap, kD}), v = ext(vc[size_t(l)], {B, kHkv, kCap, kD});
    list.rms_norm(h, ext(w.input_norm[size_t(l)], {kH}), kEps, x, p + "input_layernorm");
    list.linear(x, ext(w.qkv[size_t(l)], {(kHq + 2 * kHkv) * kD, kH}), qkv, p + "qkv_proj");
    list.rope_qkv_write(qkv, pos, table, q, k, v, p + "rope_kv");
    list.attention(q, k, v, ops::external(g, kv_start, DType::I32, {B}), att, uint32_t(pos0), p + "attention");
    list.linear(ops::reshape(att, {B, kHq * kD}), ext(w.o[size_t(l)], {kH, kHq * kD}), h, p + "o_proj", true);
    list.rms_norm(h, ext(w.post_norm[size_t(l)], {kH}), kEps, x, p + "post_attention_layernorm");
    list.linear(x, ext(w.gate_up[size_t(l)], {2 * kI, kH}), gu, p + "gate_up_proj");
    list.swiglu(gu, act, p + "swiglu");
    list.linear(act, ext(w.down[size_t(l)], {kH, kI}), h, p + "down_proj", true);
  }
  list.rms_norm(h, ext(w.final_norm, {kH}), kEps, x, "norm");
  list.linear(x, ext(w.lm_head, {kVocab, kH}), ext(logits, {B, kVocab}), "lm_head");
  list.lower();

  Outcome out;
  for (const auto& d : g.dispatches()) out.kernels.push_back(d.op + ":" + d.shader);
  Program prog = g.compile();
  prog.run();
  out.logits = test::download(ctx, logits, size_t(B * kVocab));
  out.k_cache = test::download(ctx, kc.back(), cache_elems);
  return out;
}

size_t count(const std::vector<std::string>& kernels, const std::string& prefix) {
  return size_t(
      std::count_if(kernels.begin(), kernels.end(), [&](const std::string& k) { return k.rfind(prefix, 0) == 0; }));
}

// Each of the B rows' greedy id (argmax of its logits) is the reference's.
void expect_same_argmax(const Outcome& ref, const Outcome& got, int64_t B) {
  for (int64_t b = 0; b < B; ++b) {
    const auto row = [&](const std::vector<float>& l) {
      return std::max_element(l.begin() + b * kVocab, l.begin() + (b + 1) * kVocab) - (l.begin() + b * kVocab);
    };
    EXPECT_EQ(row(ref.logits), row(got.logits)) << "row " << b;
  }
}

ops::KernelPolicy unfused() {
  ops::KernelPolicy p;
  p.fuse_matvec_max_rows = 0;
  p.mlp_decode_max_rows = 0;
  p.fold_o_proj = 0;
  return p;
}

}  // namespace

TEST(OpList, EveryFusionMatchesTheUnfusedOps) {
  Context& ctx = test::context();
  const Weights w = make_weights(ctx);
  const bool atomics = ops::mlp_decode_available(ctx.caps(), 2);
  for (int64_t B : {1, 2}) {
    SCOPED_TRACE("batch " + std::to_string(B));
    const Outcome ref = decode_step(unfused(), B, w);
    // Unfused: every op is its own dispatch.
    EXPECT_EQ(count(ref.kernels, "rms_norm:"), size_t(2 * kLayers + 1));
    EXPECT_EQ(count(ref.kernels, "swiglu:"), size_t(kLayers));
    EXPECT_EQ(count(ref.kernels, "rope:rope_qkv"), size_t(kLayers));
    EXPECT_EQ(count(ref.kernels, "matmul:"), size_t(4 * kLayers + 1));
    EXPECT_EQ(count(ref.kernels, "mlp:"), 0u);

    struct Variant {
      const char* what;
      ops::KernelPolicy policy;
      size_t norms, swiglus, ropes, mlps, oproj_attention;
    };
    ops::KernelPolicy matvec = unfused(), mlp = unfused(), all, capped;
    capped.fold_o_proj_max_kib = 8;  // o_proj here is 64 x 64 f32 = 16 KiB
    matvec.fuse_matvec_max_rows = 2;
    mlp.fuse_matvec_max_rows = 2;
    mlp.mlp_decode_max_rows = 2;
    std::vector<Variant> variants = {{"norm, RoPE and SwiGLU folded into mat-vecs", matvec, 0, 0, 0, 0, 0}};
    if (atomics) {
      variants.push_back({"+ the one-dispatch MLP", mlp, 0, 0, 0, kLayers, 0});
      variants.push_back({"+ o_proj in the attention kernel", all, 0, 0, 0, kLayers, kLayers});
      variants.push_back({"o_proj over the fold's size cap stays a mat-vec", capped, 0, 0, 0, kLayers, 0});
    }
    for (const Variant& v : variants) {
      SCOPED_TRACE(v.what);
      const Outcome got = decode_step(v.policy, B, w);
      EXPECT_EQ(count(got.kernels, "rms_norm:"), v.norms);
      EXPECT_EQ(count(got.kernels, "swiglu:"), v.swiglus);
      EXPECT_EQ(count(got.kernels, "rope:"), v.ropes);
      EXPECT_EQ(count(got.kernels, "mlp:mlp_decode_f32"), v.mlps);
      EXPECT_EQ(count(got.kernels, "attention:attention_decode_oproj_f32"), v.oproj_attention);
      EXPECT_LE(test::max_rel_error(ref.logits, got.logits), 1e-5);
      EXPECT_LE(test::max_rel_error(ref.k_cache, got.k_cache), 1e-6);
    }
  }
}

// A decode step of 40 rows on the tensor-core GEMM (emulated, so on any device): the down
// projection reads gate|up itself (no SwiGLU dispatch) and the split GEMMs' reduce passes write
// the next RMSNorm (only the first layer's input norm is left), against the same step unfused.
TEST(OpList, TensorCoreFusionsMatchTheUnfusedOps) {
  Context& ctx = test::context();
  const Weights w = make_weights(ctx);
  ops::KernelPolicy p = unfused(), q = unfused();
  p.emulate_tensor_cores = q.emulate_tensor_cores = true;
  p.fuse_gemm_inputs = 0;
  p.gemm_split_min_slices = q.gemm_split_min_slices = 1;  // the test's K of 64 and 128 split too
  const int64_t B = 40;
  const Outcome ref = decode_step(p, B, w), got = decode_step(q, B, w);
  EXPECT_EQ(count(ref.kernels, "rms_norm:"), size_t(2 * kLayers + 1));
  EXPECT_EQ(count(ref.kernels, "swiglu:"), size_t(kLayers));
  EXPECT_EQ(count(got.kernels, "swiglu:"), 0u);
  EXPECT_EQ(count(got.kernels, "rms_norm:"), 1u);
  EXPECT_GE(count(got.kernels, "matmul:matmul_reduce_f32"), size_t(2 * kLayers));
  EXPECT_GE(count(got.kernels, "matmul:matmul_coopmat_emu_f32"), size_t(4 * kLayers));
  // The tensor-core tolerance: the fused norm sums its squares in another order than norm.comp's
  // subgroup variant, and an f32 difference of one ulp can move an activation's f16 rounding
  // by one step (2^-11), which the next layers carry; greedy ids must not change.
  EXPECT_LE(test::max_rel_error(ref.logits, got.logits), 5e-3);
  EXPECT_LE(test::max_rel_error(ref.k_cache, got.k_cache), 5e-3);
  expect_same_argmax(ref, got, B);
}

// A pass of 80 rows (more than a mat-vec takes) with f16 GEMM inputs, as the text prefill on a
// tensor-core device stores them (emulated here): the norms and SwiGLU write f16 (the down
// projection no longer reads gate|up itself, no norm rides a reduce pass), every linear runs
// the tensor-core GEMM, and the result is the f32 inputs' within the tensor-core tolerance
// with the same argmax per row (the GEMM rounds f32 X to f16 itself).
TEST(OpList, HalfGemmInputsMatchF32Inputs) {
  Context& ctx = test::context();
  const Weights w = make_weights(ctx);
  ops::KernelPolicy p = unfused();
  p.emulate_tensor_cores = true;
  p.gemm_split_min_slices = 1;
  const int64_t B = 80;
  const Outcome ref = decode_step(p, B, w), got = decode_step(p, B, w, DType::F16);
  EXPECT_EQ(count(got.kernels, "swiglu:act_swiglu_f16"), size_t(kLayers));
  EXPECT_EQ(count(got.kernels, "rms_norm:"), size_t(2 * kLayers + 1));
  EXPECT_EQ(count(got.kernels, "matmul:matmul_coopmat_emu_f32"), count(ref.kernels, "matmul:matmul_coopmat_emu_f32"));
  EXPECT_GE(count(got.kernels, "matmul:matmul_coopmat_emu_f32"), size_t(4 * kLayers + 1));
  EXPECT_LE(test::max_rel_error(ref.logits, got.logits), 5e-3);
  EXPECT_LE(test::max_rel_error(ref.k_cache, got.k_cache), 5e-3);
  expect_same_argmax(ref, got, B);
}

// Where the text graph stores those inputs in f16: a tensor-core device, more rows than a
// mat-vec takes, and enough 128 x 128 tiles across the hidden width (the policy's
// half_gemm_inputs_min_tiles, 128): SmolVLM2-2.2B's 1,073-token prefill (9 x 16 tiles), not
// SmolVLM-256M's 1,108 tokens (9 x 5) unless the policy says so.
TEST(OpList, HalfGemmInputsWhereTheTileGridIsLarge) {
  Capabilities c;
  c.vendor_id = 0x10de;
  EXPECT_EQ(ops::tensor_core_gemm_input_dtype(c, 1073, 2048), DType::F32);  // no tensor cores
  c.use_coopmat = true;
  EXPECT_EQ(ops::tensor_core_gemm_input_dtype(c, 1073, 2048), DType::F16);
  EXPECT_EQ(ops::tensor_core_gemm_input_dtype(c, 1108, 576), DType::F32);
  EXPECT_EQ(ops::tensor_core_gemm_input_dtype(c, 64, 65536), DType::F32);  // mat-vec rows
  c.tuning["HALF_GEMM_INPUTS_MIN_TILES"] = 0;
  EXPECT_EQ(ops::tensor_core_gemm_input_dtype(c, 1108, 576), DType::F16);
  c.tuning["HALF_ACTIVATIONS"] = 0;
  EXPECT_EQ(ops::tensor_core_gemm_input_dtype(c, 1073, 2048), DType::F32);
}

// A decode step of 8 rows with the batched mat-vec on (policy vec_batch_max_rows): every linear
// runs it, none of the tensor-core GEMM's fusions is made (on a device with tensor cores, where
// the policy's coopmat_min_rows would take these rows), and the logits and cache are the
// unfused step's.
TEST(OpList, BatchedMatVecTakesEveryLinear) {
  Context& ctx = test::context();
  const Weights w = make_weights(ctx);
  ops::KernelPolicy p = unfused();
  p.vec_batch_max_rows = 16;
  p.vec_batch_min_weight_mib = 0;
  p.vec_batch_min_k = 0;
  p.fuse_gemm_inputs = 1;
  p.coopmat_min_rows = 8;
  const int64_t B = 8;
  const Outcome ref = decode_step(unfused(), B, w), got = decode_step(p, B, w);
  EXPECT_EQ(count(got.kernels, "matmul:matmul_vec_batch"), size_t(4 * kLayers + 1));
  EXPECT_EQ(count(got.kernels, "swiglu:"), size_t(kLayers));
  EXPECT_EQ(count(got.kernels, "rms_norm:"), size_t(2 * kLayers + 1));
  EXPECT_LE(test::max_rel_error(ref.logits, got.logits), 1e-5);
  EXPECT_LE(test::max_rel_error(ref.k_cache, got.k_cache), 1e-6);
}

// More rows than the policy's mat-vec limit: nothing is fused, whatever else it allows.
TEST(OpList, RowsAboveThePolicyLimitStayUnfused) {
  Context& ctx = test::context();
  const Weights w = make_weights(ctx);
  ops::KernelPolicy p;
  p.fuse_matvec_max_rows = 2;
  const Outcome got = decode_step(p, 3, w);
  EXPECT_EQ(count(got.kernels, "rms_norm:"), size_t(2 * kLayers + 1));
  EXPECT_EQ(count(got.kernels, "mlp:"), 0u);
  EXPECT_EQ(count(got.kernels, "attention:attention_decode_oproj"), 0u);
  EXPECT_LE(test::max_rel_error(decode_step(unfused(), 3, w).logits, got.logits), 1e-5);
}

TEST(KernelPolicy, OverridesByNameAndUnknownNamesAreErrors) {
  Capabilities caps = test::context().caps();
  caps.tuning = {{"OPROJ_FOLD", 0}, {"GEMM_BM", 64}};
  const ops::KernelPolicy p = ops::kernel_policy(caps);
  EXPECT_EQ(p.fold_o_proj, 0u);
  EXPECT_EQ(p.gemm_bm, 64u);
  const auto lines = p.describe();
  EXPECT_NE(std::find(lines.begin(), lines.end(), "OPROJ_FOLD = 0  (SMOLVK_TUNE_OPROJ_FOLD)"), lines.end());
  caps.tuning = {{"NO_SUCH_SETTING", 1}};
  EXPECT_THROW(ops::kernel_policy(caps), std::invalid_argument);
}

TEST(KernelPolicy, DeviceClasses) {
  Capabilities caps = test::context().caps();
  caps.tuning.clear();
  caps.profile.clear();
  caps.vendor_id = 0x10de;
  caps.device_type = "discrete";
  EXPECT_EQ(ops::kernel_policy(caps).device_class, "nvidia");
  EXPECT_EQ(ops::kernel_policy(caps).fold_o_proj, 1u);
  caps.vendor_id = 0x1002;
  const ops::KernelPolicy other = ops::kernel_policy(caps);
  EXPECT_EQ(other.device_class, "default");
  EXPECT_EQ(other.fold_o_proj, 0u);  // the float-atomic fusions stay off on unmeasured GPUs
  EXPECT_EQ(other.mlp_decode_max_rows, 0u);
  caps.device_type = "cpu";
  EXPECT_EQ(ops::kernel_policy(caps).device_class, "cpu");
  caps.profile = "mali-g78";  // a device profile stands for another vendor's GPU
  EXPECT_EQ(ops::kernel_policy(caps).device_class, "default");
}

namespace {

struct MlpOutcome {
  std::vector<float> h;
  std::vector<std::string> kernels;
};

// The vision encoder's MLP, h += fc2(gelu(fc1(x))) with biases, on `rows` token rows: fc1's
// output and GELU's in f16 where the GEMMs run on tensor cores (more than 64 rows on a device
// with them, as the encoder stores them), else f32.
MlpOutcome vision_mlp(const ops::KernelPolicy& policy, int64_t rows) {
  Context& ctx = test::context();
  const int64_t width = 48, inter = 136;
  const DType act = ctx.caps().use_coopmat && rows > 64 ? DType::F16 : DType::F32;
  Buffer x = test::upload(ctx, test::random_uniform(size_t(rows * width), 1, -1.0f, 1.0f));
  Buffer h = test::upload(ctx, test::random_uniform(size_t(rows * width), 2, -1.0f, 1.0f));
  Buffer w1 = test::upload(ctx, test::random_uniform(size_t(inter * width), 3, -0.4f, 0.4f));
  Buffer b1 = test::upload(ctx, test::random_uniform(size_t(inter), 4, -0.5f, 0.5f));
  Buffer w2 = test::upload(ctx, test::random_uniform(size_t(width * inter), 5, -0.2f, 0.2f));
  Buffer b2 = test::upload(ctx, test::random_uniform(size_t(width), 6, -0.5f, 0.5f));
  Graph g(ctx);
  auto ext = [&](const Buffer& b, std::vector<int64_t> shape) {
    return ops::external(g, b, DType::F32, std::move(shape));
  };
  ops::OpList list(g, policy);
  const Tensor fc1 = ops::transient(g, act, {rows, inter}), mlp = ops::transient(g, act, {rows, inter});
  const Tensor bias1 = ext(b1, {inter}), bias2 = ext(b2, {width});
  list.linear(ext(x, {rows, width}), ext(w1, {inter, width}), fc1, "fc1", false, &bias1);
  list.gelu(fc1, mlp, "gelu");
  list.linear(mlp, ext(w2, {width, inter}), ext(h, {rows, width}), "fc2", true, &bias2);
  list.lower();
  MlpOutcome out;
  for (const auto& d : g.dispatches()) out.kernels.push_back(d.op + ":" + d.shader);
  g.compile().run();
  out.h = test::download(ctx, h, size_t(rows * width));
  return out;
}

}  // namespace

// linear(+ bias) → gelu, the fusion added after the decoder's: one GEMM with GELU in its
// epilogue where the policy allows it, two dispatches (the GEMM, then act_gelu or
// act_gelu_f16) where it does not, and the same h. f32 activations: ≤ 1e-5; f16 ones (the
// unfused path rounds fc1 to f16 before GELU, the fused one after): ≤ 2e-3.
TEST(OpList, LinearGeluFusionMatchesTheUnfusedOps) {
  for (int64_t rows : {5, 100}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    const bool half = test::context().caps().use_coopmat && rows > 64;
    ops::KernelPolicy off;
    off.fuse_linear_gelu = 0;
    const MlpOutcome ref = vision_mlp(off, rows), got = vision_mlp(ops::KernelPolicy{}, rows);
    ASSERT_EQ(ref.kernels.size(), 3u);
    EXPECT_EQ(ref.kernels[1], half ? "gelu_tanh:act_gelu_f16" : "gelu_tanh:act_gelu");
    ASSERT_EQ(got.kernels.size(), 2u);
    EXPECT_EQ(count(got.kernels, "gelu_tanh:"), 0u);
    EXPECT_EQ(count(got.kernels, "matmul:"), 2u);
    EXPECT_LE(test::max_rel_error(ref.h, got.h), half ? 2e-3 : 1e-5);
  }
}
