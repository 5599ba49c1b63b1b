// The SmolVLM video prompt (loader/prompt.h): num2words, the frame timestamps, the duration,
// and the expansion of `<video>` as transformers 5.17's SmolVLMProcessor.replace_video_token
// writes it (processing_smolvlm.py; DEFAULT_VIDEO_INTRO, FRAME_TIMESTAMP_MESSAGE,
// DEFAULT_MEDIA_OUTTRO of video_processing_smolvlm.py).
#include <gtest/gtest.h>

#include "loader/error.h"
#include "loader/prompt.h"
#include "tests/loader/error_of.h"

using namespace smolvk;
using test::error_of;

TEST(VideoPrompt, NumberWordsAreNum2words) {
  // From num2words 0.5.10 (Debian's python3-num2words), num2words(n).
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {0, "zero"},
      {4, "four"},
      {13, "thirteen"},
      {21, "twenty-one"},
      {40, "forty"},
      {64, "sixty-four"},
      {100, "one hundred"},
      {101, "one hundred and one"},
      {115, "one hundred and fifteen"},
      {999, "nine hundred and ninety-nine"},
      {1000, "one thousand"},
      {1001, "one thousand and one"},
      {1024, "one thousand and twenty-four"},
      {1100, "one thousand, one hundred"},
      {1234, "one thousand, two hundred and thirty-four"},
      {2050, "two thousand and fifty"},
      {100000, "one hundred thousand"},
      {100001, "one hundred thousand and one"},
      {123456, "one hundred and twenty-three thousand, four hundred and fifty-six"},
      {999999, "nine hundred and ninety-nine thousand, nine hundred and ninety-nine"},
  };
  for (const auto& [n, words] : cases) EXPECT_EQ(number_to_words(n), words) << n;
  error_of([] { number_to_words(-1); });
  error_of([] { number_to_words(1000000); });
}

TEST(VideoPrompt, TimestampsAndDuration) {
  // f"{int(s // 60):02d}:{int(s % 60):02d}"
  EXPECT_EQ(video_timestamp(0.0), "00:00");
  EXPECT_EQ(video_timestamp(3.4), "00:03");
  EXPECT_EQ(video_timestamp(59.999), "00:59");
  EXPECT_EQ(video_timestamp(60.0), "01:00");
  EXPECT_EQ(video_timestamp(3599.5), "59:59");
  EXPECT_EQ(video_timestamp(6000.0), "100:00");
  EXPECT_EQ(video_timestamp(11.0 / (7 / 1.4)), "00:02");
  // str(timedelta(seconds=int(duration)))
  EXPECT_EQ(video_duration_text(3.5), "0:00:03");
  EXPECT_EQ(video_duration_text(0.2), "0:00:00");
  EXPECT_EQ(video_duration_text(3661.9), "1:01:01");
  EXPECT_EQ(video_duration_text(86400), "1 day, 0:00:00");
  EXPECT_EQ(video_duration_text(2 * 86400 + 5), "2 days, 0:00:05");
  error_of([] { video_duration_text(NAN); });
}

TEST(VideoPrompt, ExpansionIsReplaceVideoToken) {
  VideoMetadata m;
  m.total_frames = 20;
  m.fps = 10;
  m.duration = 1.6;
  m.frame_indices = {0, 15};
  const ImageTokens tok;
  const std::string frame = "<fake_token_around_image><global-img><image><image><fake_token_around_image>";
  EXPECT_EQ(video_prompt(2, m, 2, tok),
            "You are provided the following series of two frames from a 0:00:01 [H:MM:SS] video.\n"
            "\nFrame from 00:00:" +
                frame + "\nFrame from 00:01:" + frame + "\n\n");

  // The chat layout (DEFAULT_CHAT_TEMPLATE): a video first gives "User: " (only an image gives
  // "User:"), then the expansion in place of `<video>`.
  const std::vector<ChatMessage> msgs = {{"user", {{ChatItem::Video, {}}, {ChatItem::Text, "What happens?"}}}};
  const std::string text = ChatTemplate().apply(msgs, true);
  EXPECT_EQ(text, "<|im_start|>User: <video>What happens?<end_of_utterance>\nAssistant:");
  const std::vector<VideoMetadata> one = {m};
  EXPECT_EQ(expand_video_tokens(text, one, 2, tok),
            "<|im_start|>User: " + video_prompt(2, m, 2, tok) + "What happens?<end_of_utterance>\nAssistant:");

  // Two videos: frame_count is the most frames of any (pixel_values.shape[1] after padding).
  VideoMetadata n = m;
  n.frame_indices = {0, 5, 10, 19};
  const std::vector<VideoMetadata> two = {m, n};
  const std::string both = expand_video_tokens("<video>A<video>B", two, 1, tok);
  EXPECT_EQ(both, video_prompt(4, m, 1, tok) + "A" + video_prompt(4, n, 1, tok) + "B");
  EXPECT_NE(both.find("series of four frames"), std::string::npos);

  EXPECT_NE(error_of([&] { expand_video_tokens("no placeholder", one, 2, tok); }).find("0 `<video>`"),
            std::string::npos);
  EXPECT_NE(error_of([&] { expand_video_tokens("<video><video>", one, 2, tok); }).find("2 `<video>`"),
            std::string::npos);
  VideoMetadata empty = m;
  empty.frame_indices.clear();
  const std::vector<VideoMetadata> none = {empty};
  error_of([&] { expand_video_tokens("<video>", none, 2, tok); });
  VideoMetadata many = m;
  many.frame_indices.assign(1000, 0);
  const std::vector<VideoMetadata> huge = {many};
  EXPECT_NE(error_of([&] { expand_video_tokens("<video>", huge, 1000, tok); }).find("limit for one prompt"),
            std::string::npos);
  // The checkpoint may name its own video token (tokenizer_config.json "video_token").
  ImageTokens other;
  other.video = "<vid>";
  EXPECT_EQ(expand_video_tokens("x<vid>", one, 2, other), "x" + video_prompt(2, m, 2, other));
}
