// The tensor-core GEMM weights (vision patch embedding, attention, MLP, connector) converted to f16 at load
// (ops::tensor_core_weight_dtype): which tensors convert, that the values are the GPU's narrowing of the bf16 ones, and
// that a layer with a value beyond f16's range keeps its bf16 weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "loader/config.h"
#include "loader/safetensors.h"
#include "loader/weights.h"
#include "model/device_weights.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/matmul_ref.h"
#include "tests/test_util.h"

using namespace smolvk;

namespace {

std::vector<uint16_t> download_u16(Context& ctx, const DeviceTensor& t, size_t n) {
  std::vector<uint16_t> v((n + 1) / 2 * 2);
  ctx.download(t.buffer, v.data(), v.size() * 2);
  v.resize(n);
  return v;
}

std::vector<uint16_t> host_u16(const TensorView& t) {
  std::vector<uint16_t> v(size_t(t.numel()));
  std::memcpy(v.data(), t.data, v.size() * 2);
  return v;
}

}  // namespace

TEST(F16Weights, Bf16ToF16IsExactInRangeAndRoundsSubnormalsLikeTheGpu) {
  std::vector<uint16_t> src, want;
  // Every bf16 bit pattern: normal f16 range exact, below it rounded as f32 -> f16 rounds.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = ops::bf16_to_f32(uint16_t(b));
    if (!std::isfinite(f) || std::fabs(f) > 65504.0f) continue;
    src.push_back(uint16_t(b));
    want.push_back(ops::f32_to_f16(f));
  }
  std::vector<uint16_t> got(src.size());
  ASSERT_TRUE(ops::bf16_to_f16_in_range(src.data(), src.size(), got.data()));
  size_t exact = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << "bf16 0x" << std::hex << src[i];
    const float f = ops::bf16_to_f32(src[i]);
    if (std::fabs(f) >= 0x1p-14f) {
      ASSERT_EQ(ops::f16_to_f32(got[i]), f) << "normal values convert exactly: bf16 0x" << std::hex << src[i];
      ++exact;
    }
  }
  EXPECT_EQ(exact, 2u * 30u * 128u);  // 30 f16 exponents x 128 bf16 mantissas x 2 signs
  // 65536 (0x4780), inf and NaN do not fit; in place works.
  for (uint16_t bad : {uint16_t(0x4780), uint16_t(0xc780), uint16_t(0x7f80), uint16_t(0x7fc0)}) {
    uint16_t v[3] = {0x3f80, bad, 0x3f80};
    EXPECT_FALSE(ops::bf16_to_f16_in_range(v, 3, v)) << std::hex << bad;
  }
  uint16_t v[2] = {0x3f80, 0xc000};  // 1, -2
  ASSERT_TRUE(ops::bf16_to_f16_in_range(v, 2, v));
  EXPECT_EQ(v[0], 0x3c00);
  EXPECT_EQ(v[1], 0xc000);
}

TEST(F16Weights, VisionAndConnectorGemmWeightsConvertTheRestStays) {
  const auto dir = test::data_dir() / "smolvlm_bf16";
  Context& ctx = test::context();
  const ModelConfig config = load_model_config(dir);
  SafeTensors tensors = SafeTensors::open(dir);
  const WeightSet ws = map_weights(config, tensors);
  const DeviceWeights plain = upload_weights(ctx, config, ws);
  const DeviceWeights f16 = upload_weights(ctx, config, ws, DType::F16);
  EXPECT_EQ(f16.parameters, plain.parameters);
  EXPECT_EQ(f16.bytes, plain.bytes);  // bf16 and f16 are both 2 bytes
  ASSERT_EQ(f16.vision.size(), ws.vision.layers.size());
  for (const DeviceVisionLayer& l : f16.vision) {
    for (const DeviceTensor* t : {&l.qkv_w, &l.qkv_b, &l.out_w, &l.out_b, &l.fc1_w, &l.fc1_b, &l.fc2_w, &l.fc2_b})
      EXPECT_EQ(t->dtype, DType::F16);
    for (const DeviceTensor* t : {&l.ln1_w, &l.ln1_b, &l.ln2_w, &l.ln2_b}) EXPECT_EQ(t->dtype, DType::BF16);
  }
  EXPECT_EQ(f16.connector_w.dtype, DType::F16);
  EXPECT_EQ(f16.patch_w.dtype, DType::F16);
  EXPECT_EQ(f16.patch_b.dtype, DType::F16);
  EXPECT_EQ(f16.patch_w.shape, plain.patch_w.shape);
  EXPECT_EQ(f16.position_embedding.dtype, DType::BF16);
  for (const DeviceTextLayer& l : f16.text) EXPECT_EQ(l.qkv_w.dtype, DType::BF16);

  // Layer 0's fused qkv: q, k, v rows in order, each value the f16 narrowing of the bf16 one.
  const auto& L0 = ws.vision.layers[0];
  std::vector<uint16_t> want;
  for (const TensorView* t : {L0.q_proj.weight, L0.k_proj.weight, L0.v_proj.weight}) {
    const auto h = host_u16(*t);
    for (uint16_t b : h) want.push_back(ops::f32_to_f16(ops::bf16_to_f32(b)));
  }
  EXPECT_EQ(download_u16(ctx, f16.vision[0].qkv_w, want.size()), want);
  EXPECT_EQ(f16.vision[0].qkv_w.shape,
            (std::vector<int64_t>{int64_t(want.size()) / config.vision.hidden_size, config.vision.hidden_size}));
}

TEST(F16Weights, ALayerWithAValueBeyondF16KeepsBf16) {
  const auto dir = test::data_dir() / "smolvlm_bf16";
  Context& ctx = test::context();
  const ModelConfig config = load_model_config(dir);
  SafeTensors tensors = SafeTensors::open(dir);
  WeightSet ws = map_weights(config, tensors);
  // fc1 of layer 0 with one weight of 65536 and layer 0's out_proj bias with one of -1e5.
  TensorView fc1 = *ws.vision.layers[0].fc1.weight, out_b = *ws.vision.layers[0].out_proj.bias;
  std::vector<uint16_t> fc1_data = host_u16(fc1), out_b_data = host_u16(out_b);
  fc1_data[7] = 0x4780;
  out_b_data[0] = ops::f32_to_bf16(-1.0e5f);
  fc1.data = reinterpret_cast<const std::byte*>(fc1_data.data());
  out_b.data = reinterpret_cast<const std::byte*>(out_b_data.data());
  ws.vision.layers[0].fc1.weight = &fc1;
  ws.vision.layers[0].out_proj.bias = &out_b;
  const DeviceWeights d = upload_weights(ctx, config, ws, DType::F16);
  EXPECT_EQ(d.vision[0].fc1_w.dtype, DType::BF16);
  EXPECT_EQ(d.vision[0].fc1_b.dtype, DType::BF16);  // a layer's weight and bias share a dtype
  EXPECT_EQ(d.vision[0].out_w.dtype, DType::BF16);
  EXPECT_EQ(d.vision[0].out_b.dtype, DType::BF16);
  EXPECT_EQ(d.vision[0].qkv_w.dtype, DType::F16);
  EXPECT_EQ(d.vision[0].fc2_w.dtype, DType::F16);
  EXPECT_EQ(download_u16(ctx, d.vision[0].fc1_w, fc1_data.size()), fc1_data);  // unchanged bf16
}

TEST(F16Weights, OnlyTensorCoreDevicesConvert) {
  Capabilities c = test::context().caps();
  c.use_coopmat = false;
  EXPECT_FALSE(ops::tensor_core_weight_dtype(c).has_value());
  c.use_coopmat = true;
  EXPECT_EQ(ops::tensor_core_weight_dtype(c), DType::F16);
}

// Vision heads padded with zeros (HeadPadding, ops::vision_attention_head_dim): smolvlm_bf16's
// 2 heads of 20 laid out as heads of 32. q, k, v rows h·32 + d hold the file's rows h·20 + d
// for d < 20 and zeros after; out_proj's columns likewise; biases of q, k, v too; every other
// tensor and the parameter count are unchanged.
TEST(VisionHeads, PaddedWithZeroRowsAndColumns) {
  const auto dir = test::data_dir() / "smolvlm_bf16";
  Context& ctx = test::context();
  const ModelConfig config = load_model_config(dir);
  SafeTensors tensors = SafeTensors::open(dir);
  const WeightSet ws = map_weights(config, tensors);
  const int64_t hd = config.vision.head_dim, H = config.vision.num_attention_heads, D = config.vision.hidden_size;
  ASSERT_EQ(hd, 20);
  const DeviceWeights plain = upload_weights(ctx, config, ws);
  EXPECT_EQ(plain.vision_head_dim, hd);
  for (std::optional<DType> gemm : {std::optional<DType>{}, std::optional<DType>{DType::F16}}) {
    const DeviceWeights pad = upload_weights(ctx, config, ws, gemm, 32);
    EXPECT_EQ(pad.vision_head_dim, 32);
    EXPECT_EQ(pad.parameters, plain.parameters);
    const DeviceVisionLayer& l = pad.vision[0];
    const auto& L0 = ws.vision.layers[0];
    EXPECT_EQ(l.qkv_w.shape, (std::vector<int64_t>{3 * H * 32, D}));
    EXPECT_EQ(l.qkv_b.shape, (std::vector<int64_t>{3 * H * 32}));
    EXPECT_EQ(l.out_w.shape, (std::vector<int64_t>{D, H * 32}));
    EXPECT_EQ(l.out_b.shape, (std::vector<int64_t>{D}));
    EXPECT_EQ(l.fc1_w.shape, plain.vision[0].fc1_w.shape);
    const auto as_stored = [&](uint16_t b) { return gemm ? ops::f32_to_f16(ops::bf16_to_f32(b)) : b; };
    // q|k|v rows of the file, then the expected padded weight and bias.
    std::vector<uint16_t> rows, bias;
    for (const TensorView* t : {L0.q_proj.weight, L0.k_proj.weight, L0.v_proj.weight})
      for (uint16_t b : host_u16(*t)) rows.push_back(as_stored(b));
    for (const TensorView* t : {L0.q_proj.bias, L0.k_proj.bias, L0.v_proj.bias})
      for (uint16_t b : host_u16(*t)) bias.push_back(as_stored(b));
    std::vector<uint16_t> want_w(size_t(3 * H * 32 * D), 0), want_b(size_t(3 * H * 32), 0);
    for (int64_t h = 0; h < 3 * H; ++h)
      for (int64_t d = 0; d < hd; ++d) {
        want_b[size_t(h * 32 + d)] = bias[size_t(h * hd + d)];
        for (int64_t c = 0; c < D; ++c) want_w[size_t((h * 32 + d) * D + c)] = rows[size_t((h * hd + d) * D + c)];
      }
    EXPECT_EQ(download_u16(ctx, l.qkv_w, want_w.size()), want_w);
    EXPECT_EQ(download_u16(ctx, l.qkv_b, want_b.size()), want_b);
    const std::vector<uint16_t> out = host_u16(*L0.out_proj.weight);
    std::vector<uint16_t> want_o(size_t(D * H * 32), 0);
    for (int64_t r = 0; r < D; ++r)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < hd; ++d)
          want_o[size_t(r * H * 32 + h * 32 + d)] = as_stored(out[size_t(r * H * hd + h * hd + d)]);
    EXPECT_EQ(download_u16(ctx, l.out_w, want_o.size()), want_o);
  }
  // A tensor whose dim does not hold whole heads is refused by name.
  std::vector<int64_t> shape{30, 4};
  const std::vector<uint8_t> src(120 * 4);
  EXPECT_THROW(pad_heads(src.data(), 4, shape, {0, 20, 32}, "w"), std::invalid_argument);
}

// Where the heads are padded: only to move the attention onto tensor cores (SigLIP-so400m's
// 72 → 80 on an H100-like device; 64 stays), never without them, always with the policy's 2.
TEST(VisionHeads, PaddedWhereTheTensorCoreAttentionTakesThePaddedDim) {
  Capabilities c = test::h100_like_caps();
  EXPECT_EQ(ops::vision_attention_head_dim(c, 72), 72);  // no tensor cores
  c.use_coopmat = true;
  EXPECT_EQ(ops::vision_attention_head_dim(c, 72), 80);
  EXPECT_EQ(ops::vision_attention_head_dim(c, 64), 64);
  EXPECT_EQ(ops::vision_attention_head_dim(c, 20), 32);
  c.tuning["PAD_VISION_HEADS"] = 0;
  EXPECT_EQ(ops::vision_attention_head_dim(c, 72), 72);
  c.tuning["PAD_VISION_HEADS"] = 2;
  c.use_coopmat = false;
  EXPECT_EQ(ops::vision_attention_head_dim(c, 72), 80);
  EXPECT_EQ(ops::vision_attention_head_dim(c, 64), 64);
}
