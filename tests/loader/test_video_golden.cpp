// smolvk's SmolVLM2 video path against transformers 5.17 (tests/data/video/golden, written by
// tools/reference/make_video_golden.py on the GPU machine): the test MP4 decoded and sampled
// here, each frame resized and normalized here, and the prompt expanded and tokenized here,
// against what SmolVLMProcessor gives for the same frames (as PIL images) and metadata.
// input_ids must be equal, pixel_values equal float for float (tolerance 0), the mask too.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "loader/npy.h"
#include "loader/prompt.h"
#include "loader/tokenizer.h"
#include "loader/video.h"
#include "tests/golden_json.h"
#include "tests/test_util.h"

using namespace smolvk;

TEST(VideoGolden, MatchesTransformers) {
  const auto data = test::data_dir();
  const auto golden_dir = data / "video" / "golden";
  std::ifstream gf(golden_dir / "video_golden.json");
  ASSERT_TRUE(gf) << golden_dir / "video_golden.json"
                  << " is missing: run tools/reference/make_video_golden.py on the GPU machine (see its docstring)";
  const auto golden = nlohmann::json::parse(gf);

  // The settings as transformers read them from the same files.
  const auto config = VideoProcessorConfig::load(data / "video" / "processor");
  ASSERT_TRUE(config.has_value());
  const auto& s = golden.at("settings");
  EXPECT_EQ(s.at("fps").get<double>(), *config->fps);
  EXPECT_EQ(s.at("num_frames").get<int64_t>(), *config->max_frames);
  EXPECT_EQ(s.at("size").at("longest_edge").get<int>(), config->longest_edge);
  EXPECT_EQ(s.at("max_image_size").at("longest_edge").get<int>(), config->max_image_longest_edge);
  const int image_seq_len = s.at("image_seq_len").get<int>();

  // Decoded and sampled here; transformers' sample_frames picked the same frames.
  const Video video = load_video(data / "video" / golden.at("video").get<std::string>(), frame_sampler(*config));
  const auto indices = golden.at("sampled_by_transformers").get<std::vector<int64_t>>();
  EXPECT_EQ(video.metadata.frame_indices, indices);
  EXPECT_EQ(video.metadata.total_frames, golden.at("metadata").at("total_num_frames").get<int64_t>());
  EXPECT_EQ(video.metadata.fps, golden.at("metadata").at("fps").get<double>());
  EXPECT_EQ(video.metadata.duration, golden.at("metadata").at("duration").get<double>());
  EXPECT_EQ(video.metadata.timestamps(), golden.at("timestamps").get<std::vector<double>>());

  // pixel_values [1, frames, 3, 36, 36]: exact.
  const ProcessedVideo pv = preprocess_video(video, *config);
  const NpyArray ref = read_npy(golden_dir / "pixel_values.npy");
  ASSERT_EQ(ref.shape, (std::vector<int64_t>{1, pv.frames, 3, pv.height, pv.width}));
  EXPECT_EQ(test::compare_problem(ref.floats, pv.pixel_values), "");
  EXPECT_EQ(test::max_abs_error(ref.floats, pv.pixel_values), 0.0);
  size_t mismatches = 0, first = ref.floats.size();
  for (size_t i = 0; i < std::min(ref.floats.size(), pv.pixel_values.size()); ++i)
    if (ref.floats[i] != pv.pixel_values[i] && mismatches++ == 0) first = i;
  EXPECT_EQ(mismatches, 0u) << "first at " << first << ": transformers " << ref.floats[first] << ", smolvk "
                            << pv.pixel_values[first];
  const NpyArray mask = read_npy(golden_dir / "pixel_attention_mask.npy");
  ASSERT_EQ(mask.shape, (std::vector<int64_t>{1, pv.frames, pv.height, pv.width}));
  ASSERT_EQ(mask.ints.size(), pv.pixel_mask.size());
  for (size_t i = 0; i < mask.ints.size(); ++i) ASSERT_EQ(mask.ints[i], pv.pixel_mask[i]) << i;

  // input_ids: the video chat layout, the expansion, the tokenizer.
  const std::vector<ChatMessage> messages = test::chat_from_json(golden.at("messages"));
  const std::string text = ChatTemplate().apply(messages, true);
  EXPECT_EQ(text, golden.at("chat_text").get<std::string>());
  const auto model_dir = data / "smolvlm_f32_s3";
  const Tokenizer tokenizer = Tokenizer::load(model_dir / "tokenizer.json");
  const ImageTokens tokens = ImageTokens::load(model_dir);
  const std::vector<VideoMetadata> videos = {video.metadata};
  const std::string expanded = expand_video_tokens(text, videos, image_seq_len, tokens);
  EXPECT_EQ(expanded, golden.at("expanded_text").get<std::string>());
  std::vector<int64_t> ids;
  for (int32_t id : tokenizer.bos_prefix()) ids.push_back(id);
  for (int32_t id : tokenizer.encode(expanded)) ids.push_back(id);
  const NpyArray ref_ids = read_npy(golden_dir / "input_ids.npy");
  ASSERT_EQ(ref_ids.shape.size(), 2u);
  EXPECT_EQ(ref_ids.ints, ids);
}
