// A chat turn that continues the kept KV cache gives exactly what a fresh generation over the
// whole conversation's tokens gives.
#include <gtest/gtest.h>

#include "model/chat_session.h"
#include "tests/model/golden.h"

using namespace smolvk;

TEST(ChatSession, SecondTurnMatchesFreshGenerationOverTheWholeConversation) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  ChatSession chat(*model, 256);
  GenerateOptions o;
  o.max_new_tokens = 6;
  o.ignore_eos = true;
  std::vector<Image> images{load_image(test::data_dir() / "images" / "strip_120x40.png")};
  Result first = chat.send("Describe the strip.", images, o);
  ASSERT_EQ(first.output_ids.size(), 6u);
  Result second = chat.send("And the colours?", {}, o);
  EXPECT_EQ(chat.tokens_in_context(), int64_t(first.input_ids.size() + 6 - 1 + second.input_ids.size() + 6 - 1));

  // Fresh: the first turn's prompt, its answer, the second turn's new ids, as one prompt.
  Request whole;
  whole.prompt_ids = first.input_ids;
  whole.prompt_ids.insert(whole.prompt_ids.end(), first.output_ids.begin(), first.output_ids.end() - 1);
  whole.prompt_ids.insert(whole.prompt_ids.end(), second.input_ids.begin(), second.input_ids.end());
  PreparedRequest img = model->prepare([&] {
    Request r;
    r.prompt_text = "<image>";
    r.images = images;
    return r;
  }());
  whole.pixel_bytes = img.pixel_bytes;  // images are prepared as bytes (Model::pixel_values gives floats)
  whole.pixel_mask = img.pixel_mask;
  whole.tile_height = img.tile_height;
  whole.tile_width = img.tile_width;
  Result fresh = model->generate(whole, o);
  EXPECT_EQ(fresh.output_ids, second.output_ids);
  EXPECT_EQ(second.input_ids.front(), first.output_ids.back()) << "the pending token is fed first";
}

TEST(ChatSession, OverflowIsAnErrorBeforeAnyWork) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  ChatSession chat(*model, 32);
  GenerateOptions o;
  o.max_new_tokens = 30;
  EXPECT_THROW(chat.send("Hello there, this is long enough", {}, o), std::invalid_argument);
  EXPECT_EQ(chat.tokens_in_context(), 0);
}
