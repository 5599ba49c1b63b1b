// `smolvk run --video` on a SmolVLM2-shaped checkpoint (tests/video_model.h): the prompt it
// feeds and the pixel values it encodes are the loader's video path (decode, sample, expand,
// tokenize; decode, resize, normalize — each checked against transformers in
// tests/loader/test_video_golden.cpp), and it refuses what it cannot do, by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "loader/npy.h"
#include "loader/prompt.h"
#include "loader/tokenizer.h"
#include "loader/video.h"
#include "tests/apps/cli_test_util.h"
#include "tests/test_util.h"
#include "tests/video_model.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;

const fs::path kVideo = test::data_dir() / "video" / "moving_64x48_10fps.mp4";

TEST(VideoCli, RunFeedsTheLoadersPromptAndFrames) {
  const fs::path model = test::video_model_dir();
  const fs::path dump = fs::temp_directory_path() / ("smolvk_video_pv_" + std::to_string(::getpid()) + ".npy");
  const test::CliRun r = run_cli("run --model " + model.string() + " --video " + kVideo.string() +
                                 " --prompt 'What happens in this video?' --max-new-tokens 3 --ignore-eos --json"
                                 " --dump-pixel-values " +
                                 dump.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json out = json::parse(r.out);

  const auto config = VideoProcessorConfig::load(model);
  ASSERT_TRUE(config.has_value());
  const Video video = load_video(kVideo, frame_sampler(*config));
  ASSERT_EQ(video.metadata.frame_indices, (std::vector<int64_t>{0, 11, 22, 34}));
  const std::vector<ChatMessage> msgs = {
      {"user", {{ChatItem::Video, {}}, {ChatItem::Text, "What happens in this video?"}}}};
  const std::vector<VideoMetadata> metas = {video.metadata};
  const std::string text = expand_video_tokens(ChatTemplate().apply(msgs, true), metas, 9, ImageTokens::load(model));
  EXPECT_NE(text.find("series of four frames from a 0:00:03 [H:MM:SS] video.\n\nFrame from 00:00:"),
            std::string::npos);
  const Tokenizer tok = Tokenizer::load(model / "tokenizer.json");
  std::vector<int32_t> ids(tok.bos_prefix().begin(), tok.bos_prefix().end());
  for (int32_t id : tok.encode(text)) ids.push_back(id);
  EXPECT_EQ(out["input_ids"].get<std::vector<int32_t>>(), ids);
  EXPECT_EQ(out["output_ids"].size(), 3u);
  EXPECT_EQ(out["timings"]["tiles"], 4);  // one tile per frame

  const NpyArray pv = read_npy(dump);
  const ProcessedVideo ref = preprocess_video(video, *config);
  EXPECT_EQ(pv.shape, (std::vector<int64_t>{4, 3, 36, 36}));
  EXPECT_EQ(test::compare_problem(ref.pixel_values, pv.floats), "");
  EXPECT_EQ(test::max_abs_error(ref.pixel_values, pv.floats), 0.0);
  fs::remove(dump);

  // Not JSON: the sampled frames are named on stderr.
  const test::CliRun plain = run_cli("run --model " + model.string() + " --video " + kVideo.string() +
                                     " --prompt 'Hi' --max-new-tokens 1");
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_NE(plain.err.find("video 64x48, 35 frames at 10.000 fps (3.500 s); frames 0,11,22,34"), std::string::npos)
      << plain.err;
}

TEST(VideoCli, RefusesClearly) {
  const fs::path model = test::video_model_dir();
  const std::string m = " --model " + model.string() + " ";
  struct Case {
    std::string args, says;
  } cases[] = {
      // The demo checkpoint: transformers 5.17 wrote its video processor with the class
      // defaults, 364-pixel frames for a 64-pixel vision encoder.
      {"run --video " + kVideo.string() + " --prompt x", "364x364 frames"},
      {"run" + m + "--video " + kVideo.string() + " --image " + (test::data_dir() / "images" / "tiny_20x12.png").string() +
           " --prompt x",
       "--image or --video, not both"},
      {"run" + m + "--video " + kVideo.string() + " --prompt-ids 1,2", "--video needs --prompt"},
      {"run" + m + "--video /nonexistent/clip.mp4 --prompt x", "/nonexistent/clip.mp4: no such file"},
      {"run" + m + "--video " + (test::data_dir() / "video" / "README.md").string() + " --prompt x",
       "expected a video file"},
      {"run" + m + "--video " + (test::data_dir() / "video" / "audio_only.wav").string() + " --prompt x",
       "no video stream"},
      {"run" + m + "--video " + (test::data_dir() / "video" / "no_frames.avi").string() + " --prompt x", "no frames"},
      // Idefics3 has no video processor.
      {"run --model " + (test::data_dir() / "idefics3_f32").string() + " --video " + kVideo.string() + " --prompt x",
       "takes no video"},
  };
  for (const Case& c : cases) {
    const test::CliRun r = run_cli(c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.find("Aborted"), std::string::npos) << r.err;
  }
  const test::CliRun help = run_cli("run --help");
  EXPECT_NE(help.out.find("--video FILE"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace smolvk
