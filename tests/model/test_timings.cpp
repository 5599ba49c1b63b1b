// Result::timings' host split: the encode and prefill phases' wall time broken into buffers,
// recording and running, each part measured and together within the phase's total.
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
  for (const auto& [name, split, total] :
       {std::tuple{"encode", t.encode_host, t.encode_ms}, std::tuple{"prefill", t.prefill_host, t.prefill_ms}}) {
    SCOPED_TRACE(name);
    EXPECT_GT(split.upload_ms, 0.0);
    EXPECT_GT(split.record_ms, 0.0);
    EXPECT_GT(split.run_ms, 0.0);
    EXPECT_LE(split.upload_ms + split.record_ms + split.run_ms, total + 1e-3);
  }
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
  EXPECT_GT(t.prefill_host.run_ms, 0.0);
}
