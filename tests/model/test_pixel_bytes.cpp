// Images reach the encoder as bytes (the processor's tiles before rescale and normalize) and
// are normalized on the device through the processor's table: a quarter of the upload, the
// same floats. These tests hold that to the bit against the same tiles given as floats, and
// check the host fallback (tiles padded to one size) and the image cache keys.
#include <gtest/gtest.h>

#include <memory>

#include "loader/preprocess.h"
#include "model/graphs.h"
#include "tests/model/golden.h"

using namespace smolvk;

namespace {

const char* const kFixture = "idefics3_f32";  // its processor splits images into tiles

Request ask(const std::vector<std::string>& images) {
  Request r;
  for (const auto& name : images) {
    r.prompt_text += "<image>";
    r.images.push_back(load_image(test::data_dir() / "images" / name));
  }
  r.prompt_text += "What is this?";
  return r;
}

// The prepared request's tiles as a caller gives them: bytes, or the processor's floats.
Request given(const Model& m, const PreparedRequest& p, bool as_bytes) {
  Request r;
  r.prompt_ids = p.input_ids;
  r.tile_height = p.tile_height;
  r.tile_width = p.tile_width;
  r.pixel_mask = p.pixel_mask;
  if (as_bytes)
    r.pixel_bytes = {p.bytes().begin(), p.bytes().end()};
  else
    r.pixel_values = m.pixel_values(p);
  return r;
}

GenerateOptions opts() {
  GenerateOptions o;
  o.max_new_tokens = 4;
  o.ignore_eos = true;
  o.want_last_logits = true;
  o.profile = true;
  return o;
}

// The shader of the encoder's im2col in a result's profile.
std::string im2col_shader(const Result& r) {
  for (const auto& phase : r.profile)
    for (const auto& d : phase.dispatches)
      if (d.op == "im2col") return d.shader;
  return "";
}

}  // namespace

TEST(PixelBytes, ImagesAreBytesWhoseTableGivesTheProcessorsFloats) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / kFixture);
  const Request r = ask({"wide_100x60.png"});
  const PreparedRequest p = model->prepare(r);
  ASSERT_GT(p.tiles, 1);  // split into tiles + the global image
  EXPECT_TRUE(p.pixel_values.empty());
  ASSERT_EQ(p.pixel_bytes.size(), size_t(p.tiles) * 3 * p.tile_height * p.tile_width);
  const ProcessedImage floats = preprocess_image(r.images[0], model->processor());
  EXPECT_EQ(model->pixel_values(p), floats.pixel_values);  // bit for bit
}

TEST(PixelBytes, NormalizedOnTheDeviceToTheBit) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / kFixture);
  const PreparedRequest p = model->prepare(ask({"wide_100x60.png"}));
  const Result from_image = model->generate(ask({"wide_100x60.png"}), opts());
  const Result bytes = model->generate(given(*model, p, true), opts());
  const Result floats = model->generate(given(*model, p, false), opts());
  EXPECT_EQ(im2col_shader(from_image), "patch_im2col_u8");
  EXPECT_EQ(im2col_shader(bytes), "patch_im2col_u8");
  EXPECT_EQ(im2col_shader(floats), "patch_im2col");
  ASSERT_FALSE(floats.last_logits.empty());
  EXPECT_EQ(bytes.last_logits, floats.last_logits);  // the same patches, so the same bits
  EXPECT_EQ(from_image.last_logits, floats.last_logits);
  EXPECT_EQ(bytes.output_ids, floats.output_ids);

  PreparedRequest pf = p;  // the encoder output itself, through encode_images
  pf.pixel_values = model->pixel_values(p);
  pf.pixel_bytes.clear();
  std::vector<float> vis_b, vis_f;
  const auto conn_b = model->encode_images(p, &vis_b), conn_f = model->encode_images(pf, &vis_f);
  ASSERT_FALSE(conn_b.empty());
  EXPECT_EQ(conn_b, conn_f);
  EXPECT_EQ(vis_b, vis_f);
}

// A batch whose requests give tiles in both forms: every tile then goes up as floats, the
// bytes normalized on the host with the same table (also what tiles of two sizes get, which
// must be padded: byte 0 is not the float 0 of padding).
TEST(PixelBytes, MixedFormsFallBackToHostFloatsWithTheSameResult) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / kFixture);
  const PreparedRequest a = model->prepare(ask({"wide_100x60.png"}));
  const PreparedRequest b = model->prepare(ask({"tall_30x70.png"}));
  const std::vector<Request> mixed{given(*model, a, true), given(*model, b, false)};
  const std::vector<Request> bytes{given(*model, a, true), given(*model, b, true)};
  const auto rm = model->generate(mixed, opts());
  const auto rb = model->generate(bytes, opts());
  EXPECT_EQ(im2col_shader(rm[0]), "patch_im2col");
  EXPECT_EQ(im2col_shader(rb[0]), "patch_im2col_u8");
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_FALSE(rm[i].last_logits.empty());
    EXPECT_EQ(rm[i].last_logits, rb[i].last_logits) << "row " << i;
    EXPECT_EQ(rm[i].output_ids, rb[i].output_ids) << "row " << i;
  }
}

TEST(PixelBytes, RequestsGiveFloatsOrBytesNotBoth) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / kFixture);
  const PreparedRequest p = model->prepare(ask({"square_40x40.png"}));
  Request both = given(*model, p, true);
  both.pixel_values = model->pixel_values(p);
  EXPECT_THROW(model->prepare(both), std::invalid_argument);
  Request short_bytes = given(*model, p, true);
  short_bytes.pixel_bytes.pop_back();
  EXPECT_THROW(model->prepare(short_bytes), std::invalid_argument);
}

TEST(PixelBytes, CacheKeysTellBytesFloatsAndTablesApart) {
  const std::vector<uint8_t> bytes(3 * 4 * 4, 7), mask(4 * 4, 1);
  std::vector<float> lut(3 * 256, 0.5f), floats(bytes.size(), 0.5f);
  const auto k = ImageCache::key(bytes, lut, mask, 1, 4, 4);
  EXPECT_EQ(k, ImageCache::key(bytes, lut, mask, 1, 4, 4));
  EXPECT_NE(k, ImageCache::key(floats, mask, 1, 4, 4));  // the same tile as floats
  lut[7] = 0.25f;  // another processor's normalization
  EXPECT_NE(k, ImageCache::key(bytes, lut, mask, 1, 4, 4));
}

// The encoder in passes of one tile (SMOLVK_TUNE_VISION_CHUNK=1), each recorded and its pixels
// uploaded while the one before runs, through a staging buffer as on a discrete GPU, against
// one pass over all tiles (two images of different tile counts in one batch, so passes cross
// from one request's tiles to the next). Fewer rows per pass can pick other GEMM kernels
// (another summation order), so the f32 tolerance applies: 1e-4 relative, the same ids; a
// pass that read another pass's pixels, or none, would be far off. Where the encoder runs on
// tensor cores (its heads of 12 padded to 16 there), those kernels round differently: the
// tensor-core tolerance, 5e-3.
TEST(PixelBytes, OverlappedPassesOfOneTileMatchOnePass) {
  ContextOptions o = ContextOptions::from_env();
  o.validation = true;
  o.staged_transfers = true;
  o.fault.clear();
  o.on_validation_message = [](const std::string& m) { ADD_FAILURE() << "Vulkan validation: " << m; };
  o.tuning["VISION_CHUNK"] = 1;
  Context chunked(o);
  auto one = Model::load(test::context(), test::data_dir() / kFixture);
  auto per_tile = Model::load(chunked, test::data_dir() / kFixture);
  const std::vector<Request> batch{ask({"wide_100x60.png"}), ask({"tall_30x70.png"})};
  const auto a = one->generate(batch, opts()), b = per_tile->generate(batch, opts());
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  size_t im2col_passes = 0;
  for (const auto& phase : b[0].profile)
    for (const auto& d : phase.dispatches) im2col_passes += d.op == "im2col";
  EXPECT_GT(im2col_passes, 2u);  // one per tile
  const double tol = chunked.caps().use_coopmat ? 5e-3 : 1e-4;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_LE(test::max_rel_error(a[i].last_logits, b[i].last_logits), tol) << "request " << i;
    EXPECT_EQ(a[i].output_ids, b[i].output_ids) << "request " << i;
  }
  const PreparedRequest p = one->prepare(ask({"wide_100x60.png"}));
  ASSERT_GT(p.tiles, 2);
  std::vector<float> vis_a, vis_b;
  const auto conn_a = one->encode_images(p, &vis_a);
  const auto conn_b = per_tile->encode_images(per_tile->prepare(ask({"wide_100x60.png"})), &vis_b);
  EXPECT_LE(test::max_rel_error(conn_a, conn_b), tol);
  EXPECT_LE(test::max_rel_error(vis_a, vis_b), tol);
}

// The vision heads padded with zeros (SMOLVK_TUNE_PAD_VISION_HEADS=2: idefics3_f32's heads of
// 12 run as heads of 16, as SigLIP-so400m's 72 run as 80 on tensor cores) give the model the
// padding-free run gives: the padded q·k and p·v only add zero products and the softmax scale
// stays 1/√12. A wrong scale, or padding in the wrong rows or columns, would be far off. The
// f32 tolerance (1e-4 relative) covers the other head dim's summation order; ids identical.
// On a tensor-core device the padded heads move the encoder onto tensor cores (f16
// activations) and the plain ones do not: the tensor-core tolerance, 5e-3.
TEST(VisionHeads, PaddedHeadsGiveTheSameModel) {
  const auto context = [](uint32_t pad) {
    ContextOptions o = ContextOptions::from_env();
    o.validation = true;
    o.fault.clear();
    o.on_validation_message = [](const std::string& m) { ADD_FAILURE() << "Vulkan validation: " << m; };
    o.tuning["PAD_VISION_HEADS"] = pad;
    return std::make_unique<Context>(o);
  };
  const auto plain_ctx = context(0), padded_ctx = context(2);
  auto plain = Model::load(*plain_ctx, test::data_dir() / kFixture);
  auto padded = Model::load(*padded_ctx, test::data_dir() / kFixture);
  const double tol = padded_ctx->caps().use_coopmat ? 5e-3 : 1e-4;
  ASSERT_EQ(plain->config().vision.head_dim, 12);
  const std::vector<Request> batch{ask({"wide_100x60.png"}), ask({"tall_30x70.png"})};
  const auto a = plain->generate(batch, opts()), b = padded->generate(batch, opts());
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_LE(test::max_rel_error(a[i].last_logits, b[i].last_logits), tol) << "request " << i;
    EXPECT_EQ(a[i].output_ids, b[i].output_ids) << "request " << i;
  }
  // The padded run's attention really ran at 16: its layer-0 attention dispatch counts 16/12
  // of the flops.
  const auto attention_flops = [](const Result& r) {
    for (const auto& phase : r.profile)
      for (const auto& d : phase.dispatches)
        if (d.op == "attention" && d.name.rfind("vision.L0.", 0) == 0) return d.flops;
    return 0.0;
  };
  ASSERT_GT(attention_flops(a[0]), 0.0);
  EXPECT_DOUBLE_EQ(attention_flops(b[0]) / attention_flops(a[0]), 16.0 / 12.0);
  std::vector<float> vis_a, vis_b;
  const auto conn_a = plain->encode_images(plain->prepare(ask({"wide_100x60.png"})), &vis_a);
  const auto conn_b = padded->encode_images(padded->prepare(ask({"wide_100x60.png"})), &vis_b);
  const double vis_tol = padded_ctx->caps().use_coopmat ? 5e-3 : 1e-5;  // the encoder alone: f32 summation order
  EXPECT_LE(test::max_rel_error(conn_a, conn_b), vis_tol);
  EXPECT_LE(test::max_rel_error(vis_a, vis_b), vis_tol);
}

// The encoder's pass size: the activation budget, the policy's fixed count, and the device's
// binding range, which every pass's widest activation must fit (qkv and the MLP's are bound
// whole). SmolVLM-256M's vision tower at 512 px: 1,024 tokens a tile, 768 wide, MLP 3,072.
TEST(PixelBytes, EncoderPassesFitTheBindingRange) {
  VisionConfig vc;
  vc.hidden_size = 768;
  vc.intermediate_size = 3072;
  const uint64_t budget = 512ull << 20, mib128 = 128ull << 20, gib4 = 4ull << 30;
  // f32 activations (no tensor cores, e.g. lavapipe): the MLP's 12 MiB a tile allow 10 tiles
  // in 128 MiB; the budget alone would allow 17 (31.5 MB a tile).
  EXPECT_EQ(vision_pass_tiles(vc, 1024, 4, budget, 0, 0), 17);
  EXPECT_EQ(vision_pass_tiles(vc, 1024, 4, budget, 0, mib128), 10);
  // f16 activations: 31 tiles by the budget; a 4 GiB range does not bind, 128 MiB does (21).
  EXPECT_EQ(vision_pass_tiles(vc, 1024, 2, budget, 0, gib4), 31);
  EXPECT_EQ(vision_pass_tiles(vc, 1024, 2, budget, 0, mib128), 21);
  // The policy's fixed count, still held to the range; never fewer than one tile.
  EXPECT_EQ(vision_pass_tiles(vc, 1024, 2, budget, 17, gib4), 17);
  EXPECT_EQ(vision_pass_tiles(vc, 1024, 4, budget, 17, mib128), 10);
  EXPECT_EQ(vision_pass_tiles(vc, 1024, 4, budget, 0, 1 << 20), 1);
  // SigLIP-so400m (1,152 wide, 16 heads of 72, MLP 4,304; 729 tokens at 384 px): its heads
  // padded to 80 widen q, k, v and the attention output, 18.8 against 18.0 MB a tile.
  VisionConfig so;
  so.hidden_size = 1152;
  so.num_attention_heads = 16;
  so.head_dim = 72;
  so.intermediate_size = 4304;
  EXPECT_EQ(vision_pass_tiles(so, 729, 2, budget, 0, gib4), 29);
  EXPECT_EQ(vision_pass_tiles(so, 729, 2, budget, 0, gib4, 80), 28);
}
