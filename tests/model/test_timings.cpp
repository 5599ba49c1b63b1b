// Result::timings' host split: the encode and prefill phases' wall time broken into buffers,
// recording and waiting for the GPU, each part measured and within the phase it falls in.
#include <gtest/gtest.h>

#include "tests/model/golden.h"

using namespace smolvk;

TEST(Timings, HostSplitAddsUpToEachPhase) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  Request r;
  r.prompt_text = "<image>What is this?";
  r.images = {load_image(test::data_dir() / "images" / "strip_120x40.png")};
  GenerateOptions o;
  o.max_new_tokens = 2;
  const Timings t = model->generate(r, o).timings;
  ASSERT_GT(t.tiles, 0);
  for (const auto& [name, split] : {std::pair{"encode", t.encode_host}, std::pair{"prefill", t.prefill_host}}) {
    SCOPED_TRACE(name);
    EXPECT_GT(split.upload_ms, 0.0);
    EXPECT_GT(split.record_ms, 0.0);
    EXPECT_GT(split.run_ms, 0.0);
  }
  // The prefill's inputs and recording happen while the encoder's last pass runs: inside
  // encode_ms with the encoder's own three parts; prefill_ms is the wait after it.
  const HostSplit& e = t.encode_host;
  const HostSplit& p = t.prefill_host;
  EXPECT_LE(e.upload_ms + e.record_ms + e.run_ms + p.upload_ms + p.record_ms, t.encode_ms + 1e-3);
  EXPECT_LE(p.run_ms, t.prefill_ms + 1e-3);
  EXPECT_LE(t.encode_ms + t.prefill_ms, t.first_token_ms + 1e-3);
}

TEST(Timings, NoImagesNoEncodeSplit) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  Request r;
  r.prompt_text = "Hello";
  GenerateOptions o;
  o.max_new_tokens = 1;
  const Timings t = model->generate(r, o).timings;
  EXPECT_EQ(t.tiles, 0);
  EXPECT_EQ(t.encode_host.run_ms, 0.0);
  EXPECT_EQ(t.encode_host.record_ms, 0.0);
  // Without images the prefill's three parts lie inside its phase.
  const HostSplit& p = t.prefill_host;
  EXPECT_GT(p.record_ms, 0.0);
  EXPECT_GT(p.run_ms, 0.0);
  EXPECT_LE(p.upload_ms + p.record_ms + p.run_ms, t.prefill_ms + 1e-3);
}
