// The image cache (Model::set_image_cache_budget): a request about an image seen before takes
// its encoder output from the device cache instead of running the vision encoder, with the
// same result to the bit (the cached rows are a copy of what the encoder wrote); a different
// image, or the same image in another request of a batch, is keyed separately; the budget is
// an LRU byte limit, and 0 turns the cache off.
#include <gtest/gtest.h>

#include "tests/model/golden.h"

using namespace smolvk;

namespace {

Request ask(std::vector<std::string> images, const std::string& question = "What is this?") {
  Request r;
  for (const auto& name : images) {
    r.prompt_text += "<image>";
    r.images.push_back(load_image(test::data_dir() / "images" / name));
  }
  r.prompt_text += question;
  return r;
}

GenerateOptions opts() {
  GenerateOptions o;
  o.max_new_tokens = 3;
  o.ignore_eos = true;
  o.want_last_logits = true;
  return o;
}

}  // namespace

TEST(ImageCache, SecondRequestSkipsTheEncoderWithTheSameResult) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  const Result plain = model->generate(ask({"strip_120x40.png"}), opts());  // cache off
  ASSERT_GT(plain.timings.tiles, 0);
  EXPECT_EQ(plain.timings.cached_tiles, 0);
  EXPECT_EQ(model->image_cache_stats().misses, 0u);  // off: not even looked up

  model->set_image_cache_budget(64ull << 20);
  const Result first = model->generate(ask({"strip_120x40.png"}), opts());
  EXPECT_EQ(first.timings.cached_tiles, 0);
  ImageCacheStats s = model->image_cache_stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.misses, 1u);
  // tiles × image_seq_len rows of the text width, f32
  EXPECT_EQ(s.bytes, uint64_t(first.timings.tiles) * uint64_t(model->config().image_seq_len()) *
                         uint64_t(model->config().text.hidden_size) * 4);

  const Result second = model->generate(ask({"strip_120x40.png"}, "And the colours?"), opts());
  EXPECT_EQ(second.timings.cached_tiles, second.timings.tiles);
  EXPECT_EQ(second.timings.encode_host.run_ms, 0.0);  // no encoder pass
  EXPECT_EQ(model->image_cache_stats().hits, 1u);
  const Result again = model->generate(ask({"strip_120x40.png"}), opts());
  EXPECT_EQ(again.output_ids, plain.output_ids);
  EXPECT_EQ(again.last_logits, plain.last_logits);  // bit for bit
  EXPECT_EQ(first.last_logits, plain.last_logits);
}

TEST(ImageCache, MixedHitsAndMissesKeepPromptOrder) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  const Result plain = model->generate(ask({"square_40x40.png", "strip_120x40.png"}), opts());
  model->set_image_cache_budget(64ull << 20);
  model->generate(ask({"strip_120x40.png"}), opts());  // caches the second image only
  const Result mixed = model->generate(ask({"square_40x40.png", "strip_120x40.png"}), opts());
  EXPECT_GT(mixed.timings.cached_tiles, 0);
  EXPECT_LT(mixed.timings.cached_tiles, mixed.timings.tiles);
  EXPECT_EQ(mixed.output_ids, plain.output_ids);
  // Not bit for bit: without the cache both images' tiles are encoded in one pass, padded to
  // the larger tile size, which changes the order of some f32 sums (fp32 tolerance, 1e-4).
  EXPECT_LE(test::max_rel_error(plain.last_logits, mixed.last_logits), 1e-4);

  // A batch: each request's images are looked up on their own.
  std::vector<Request> batch{ask({"strip_120x40.png"}), ask({"tall_30x70.png"})};
  const auto rs = model->generate(batch, opts());
  EXPECT_EQ(rs[0].timings.cached_tiles, model->generate(ask({"strip_120x40.png"}), opts()).timings.tiles);
  const auto alone = model->generate(ask({"tall_30x70.png"}), GenerateOptions{.max_new_tokens = 3, .ignore_eos = true});
  EXPECT_EQ(rs[1].output_ids, alone.output_ids);
}

TEST(ImageCache, BudgetEvictsLeastRecentlyUsedAndZeroTurnsItOff) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  model->set_image_cache_budget(64ull << 20);
  model->generate(ask({"strip_120x40.png"}), opts());
  const uint64_t one = model->image_cache_stats().bytes;
  ASSERT_GT(one, 0u);
  // Room for about one image of this size: the second evicts the first.
  model->set_image_cache_budget(one + one / 2);
  model->generate(ask({"wide_100x60.png"}), opts());
  ImageCacheStats s = model->image_cache_stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_LE(s.bytes, s.budget_bytes);
  EXPECT_EQ(model->generate(ask({"strip_120x40.png"}), opts()).timings.cached_tiles, 0);  // evicted
  // An image whose rows exceed the whole budget is not kept.
  model->set_image_cache_budget(16);
  EXPECT_EQ(model->image_cache_stats().entries, 0u);
  model->generate(ask({"strip_120x40.png"}), opts());
  EXPECT_EQ(model->image_cache_stats().entries, 0u);
  model->set_image_cache_budget(0);
  EXPECT_EQ(model->image_cache_stats().bytes, 0u);
  EXPECT_EQ(model->generate(ask({"strip_120x40.png"}), opts()).timings.cached_tiles, 0);
}
