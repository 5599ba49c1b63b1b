// The SmolVLM video processor's pure parts (loader/video_preprocess.h, VideoProcessorConfig):
// frame sampling, the resize sizes, the torchvision-style resize's invariants, the pixel table,
// and how the settings are read. No FFmpeg, no golden file.
//
// Expected sample indices: transformers 5.17's SmolVLMVideoProcessor.sample_frames
// (models/smolvlm/video_processing_smolvlm.py) evaluated by hand with CPython's float
// arithmetic, np.linspace(start, end, n, dtype=int) written out as numpy 2.x computes it
// (y = arange(n) * ((end - start) / (n - 1)) + start in float64, y[-1] = end, floor) and
// np.unique. Each case names the branch it takes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loader/error.h"
#include "loader/preprocess.h"
#include "loader/video_preprocess.h"
#include "tests/loader/error_of.h"
#include "tests/test_util.h"

using namespace smolvk;
using test::error_of;

namespace {

VideoMetadata meta(int64_t total, double fps, double duration) {
  VideoMetadata m;
  m.total_frames = total;
  m.fps = fps;
  m.duration = duration;
  return m;
}

std::vector<int64_t> range(int64_t from, int64_t to_inclusive, int64_t step) {
  std::vector<int64_t> v;
  for (int64_t i = from; i <= to_inclusive; i += step) v.push_back(i);
  return v;
}

Image pattern(int w, int h, int seed) {
  Image im{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) im.rgb[(size_t(y) * w + x) * 3 + c] = uint8_t((x * 37 + y * 11 + c * 85 + seed) % 256);
  return im;
}

}  // namespace

TEST(VideoSampling, MatchesTransformersSampleFrames) {
  // (total frames, video fps, duration, max_frames, target fps) → indices.
  // The test MP4: round(1 · 3.5) = 4 (half to even), linspace(0, 34, 4) = 0, 11.33, 22.67, 34.
  EXPECT_EQ(sample_video_frames(meta(35, 10, 3.5), 64, 1), (std::vector<int64_t>{0, 11, 22, 34}));
  // round(2.5) = 2 (half to even, not 3): the two ends.
  EXPECT_EQ(sample_video_frames(meta(25, 10, 2.5), 64, 1), (std::vector<int64_t>{0, 24}));
  // Target fps 2: round(7.0) = 7 frames, step 34/6 = 5.67.
  EXPECT_EQ(sample_video_frames(meta(35, 10, 3.5), 64, 2), (std::vector<int64_t>{0, 5, 11, 17, 22, 28, 34}));
  // round(0.2) = 0 → at least one frame: linspace(0, 4, 1) = [0].
  EXPECT_EQ(sample_video_frames(meta(5, 25, 0.2), 64, 1), (std::vector<int64_t>{0}));
  EXPECT_EQ(sample_video_frames(meta(1, 25, 0.04), 64, 1), (std::vector<int64_t>{0}));
  // The test AVI: 7 frames in 1.4 s, round(1.4) = 1 → [0].
  EXPECT_EQ(sample_video_frames(meta(7, 7 / 1.4, 1.4), 64, 1), (std::vector<int64_t>{0}));
  // Capped at max_frames 8; 20 − 2 > 8 · 1: skip 1 s at both ends, start int(30) = 30,
  // end int(600 − 30) = 570, linspace(30, 570, 8), step 77.14.
  EXPECT_EQ(sample_video_frames(meta(600, 30, 20), 8, 1), (std::vector<int64_t>{30, 107, 184, 261, 338, 415, 492, 570}));
  // 100 s at 30 fps, max 64: skipping, linspace(30, 2970, 64), step 2940/63 = 46.67; 3 · step
  // + 30 is 170.0 in float64 (not 169.99...).
  const std::vector<int64_t> long_video = {
      30,   76,   123,  170,  216,  263,  310,  356,  403,  450,  496,  543,  590,  636,  683,  730,
      776,  823,  870,  916,  963,  1010, 1056, 1103, 1150, 1196, 1243, 1290, 1336, 1383, 1430, 1476,
      1523, 1570, 1616, 1663, 1710, 1756, 1803, 1850, 1896, 1943, 1990, 2036, 2083, 2130, 2176, 2223,
      2270, 2316, 2363, 2410, 2456, 2503, 2550, 2596, 2643, 2690, 2736, 2783, 2830, 2876, 2923, 2970};
  EXPECT_EQ(sample_video_frames(meta(3000, 30, 100), 64, 1), long_video);
  // 29.97 fps (300 / 10.01): round(10.01) = 10; 10.01 − 2 < 64: no skip, linspace(0, 299, 10).
  EXPECT_EQ(sample_video_frames(meta(300, 300 / 10.01, 10.01), 64, 1),
            (std::vector<int64_t>{0, 33, 66, 99, 132, 166, 199, 232, 265, 299}));
  // Target fps 0.5 of a 150 s video: 150 − 2 > 64 · 0.5: skip; round(75) → 64 frames from 30 to
  // 4470 (step 70.48).
  const auto half_fps = sample_video_frames(meta(4500, 30, 150), 64, 0.5);
  ASSERT_EQ(half_fps.size(), 64u);
  EXPECT_EQ(half_fps[0], 30);
  EXPECT_EQ(half_fps[1], 100);
  EXPECT_EQ(half_fps[3], 241);
  EXPECT_EQ(half_fps[63], 4470);
  // More frames asked than there are: linspace(0, 2, 10) repeats indices, np.unique keeps 3.
  EXPECT_EQ(sample_video_frames(meta(3, 0.3, 10), 64, 1), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(sample_video_frames(meta(2, 1, 2), 64, 1), (std::vector<int64_t>{0, 1}));
  // skip_secs 0 turns the skip off.
  EXPECT_EQ(sample_video_frames(meta(600, 30, 20), 8, 1, 0).front(), 0);
  EXPECT_EQ(sample_video_frames(meta(600, 30, 20), 8, 1, 0).back(), 599);
}

TEST(VideoSampling, RefusesUnusableMetadataAndSettings) {
  EXPECT_NE(error_of([] { sample_video_frames(meta(0, 10, 1), 64, 1); }).find("0 frames"), std::string::npos);
  EXPECT_NE(error_of([] { sample_video_frames(meta(10, 0, 1), 64, 1); }).find("frame rate"), std::string::npos);
  EXPECT_NE(error_of([] { sample_video_frames(meta(10, NAN, 1), 64, 1); }).find("frame rate"), std::string::npos);
  error_of([] { sample_video_frames(meta(10, 10, 1), 0, 1); });
  error_of([] { sample_video_frames(meta(10, 10, NAN), 64, 1); });

  VideoProcessorConfig c;
  c.source = "cfg";
  // No sampling settings: every frame, as transformers (do_sample_frames stays false).
  EXPECT_EQ(video_frame_indices(meta(5, 10, 0.5), c), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_NE(error_of([&] { video_frame_indices(meta(kMaxVideoFrames + 1, 30, 40), c); }).find("over the limit"),
            std::string::npos);
  c.max_frames = 8;  // without fps: transformers fails on fps * duration with fps None
  EXPECT_NE(error_of([&] { video_frame_indices(meta(50, 10, 5), c); }).find("needs both"), std::string::npos);
  c.fps = 2.0;
  EXPECT_EQ(video_frame_indices(meta(50, 10, 5), c), range(0, 49, 7));  // round(10) → 8 frames, step 7
  EXPECT_EQ(frame_sampler(c)(meta(50, 10, 5)), range(0, 49, 7));
}

TEST(VideoSampling, ResizeSizesFollowTheVideoProcessor) {
  // get_resize_output_image_size of video_processing_smolvlm.py: (height, width) out.
  EXPECT_EQ(video_resize_size(48, 64, 108), std::make_pair(82, 108));  // int(81.00000000000001) = 81 → even 82
  EXPECT_EQ(video_resize_size(48, 64, 36), std::make_pair(28, 36));
  EXPECT_EQ(video_resize_size(100, 50, 36), std::make_pair(36, 18));
  EXPECT_EQ(video_resize_size(1080, 1920, 2048), std::make_pair(1152, 2048));
  EXPECT_EQ(video_resize_size(29, 40, 5000), std::make_pair(2970, 4096));  // min(4096, L)
  EXPECT_EQ(video_resize_size(7, 3, 10), std::make_pair(10, 4));
  EXPECT_EQ(video_resize_size(1, 1000, 512), std::make_pair(1, 512));  // int(0.512) = 0 → at least 1
}

TEST(VideoSampling, TorchResizeInvariants) {
  const Image src = pattern(64, 48, 3);
  for (Resample f : {Resample::Bicubic, Resample::Bilinear}) {
    EXPECT_TRUE(resize_torch_aa(src, 64, 48, f).rgb == src.rgb);  // same size: unchanged
    Image flat{40, 30, std::vector<uint8_t>(40 * 30 * 3, 200)};
    for (auto [w, h] : {std::pair{36, 36}, {108, 82}, {7, 5}, {40, 90}}) {
      const Image out = resize_torch_aa(flat, w, h, f);
      ASSERT_EQ(out.width, w);
      ASSERT_EQ(out.height, h);
      for (uint8_t v : out.rgb) ASSERT_EQ(v, 200) << w << "x" << h;  // weights sum to one
    }
    // Only the height changes: each column on its own (a column-constant image stays so).
    Image cols{5, 8, std::vector<uint8_t>(5 * 8 * 3)};
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 5; ++x)
        for (int c = 0; c < 3; ++c) cols.rgb[(size_t(y) * 5 + x) * 3 + c] = uint8_t(40 * x + c);
    const Image tall = resize_torch_aa(cols, 5, 13, f);
    for (int y = 0; y < 13; ++y)
      for (int x = 0; x < 5; ++x) EXPECT_EQ(tall.pixel(x, y)[1], 40 * x + 1);
  }
  EXPECT_NE(error_of([&] { resize_torch_aa(src, 10, 10, Resample::Lanczos); }).find("BICUBIC or BILINEAR"),
            std::string::npos);
  error_of([&] { resize_torch_aa(src, 0, 10, Resample::Bicubic); });
  error_of([&] { resize_torch_aa(Image{2, 2, {}}, 4, 4, Resample::Bicubic); });
}

TEST(VideoSampling, PixelTableIsTorchvisionsFusedNormalize) {
  VideoProcessorConfig c;  // rescale 1/255, mean = std = 0.5
  const auto lut = video_pixel_lut(c);
  ASSERT_EQ(lut.size(), 768u);
  // normalize(float32(v), 0.5 / (1/255), 0.5 / (1/255)) = (v − 127.5f) / 127.5f in float32.
  for (int v = 0; v < 256; ++v) EXPECT_EQ(lut[size_t(v)], (float(v) - 127.5f) / 127.5f) << v;
  EXPECT_EQ(lut[0], -1.0f);
  EXPECT_EQ(lut[255], 1.0f);
  // Not the image processor's PIL path (float64 rescale, then float32 normalize): 128 of the
  // 256 values differ in the last bit, so video frames carry their own table.
  ProcessorConfig image;
  const auto pil = pixel_lut(image);
  int differ = 0;
  for (int v = 0; v < 256; ++v) differ += pil[size_t(v)] != lut[size_t(v)];
  EXPECT_EQ(differ, 128);
  c.do_normalize = false;
  EXPECT_EQ(video_pixel_lut(c)[51], 51.0f * float(1.0 / 255.0));
  c.do_rescale = false;
  EXPECT_EQ(video_pixel_lut(c)[51], 51.0f);
}

TEST(VideoSampling, PreprocessGivesSquareFramesOfOneSize) {
  VideoProcessorConfig c;
  c.source = "cfg";
  c.longest_edge = 108;
  c.max_image_longest_edge = 36;
  Video v;
  v.source = "v.mp4";
  v.frames = {pattern(64, 48, 0), pattern(64, 48, 9)};
  v.metadata.frame_indices = {0, 5};
  const ProcessedVideo p = preprocess_video(v, c);
  EXPECT_EQ(p.frames, 2);
  EXPECT_EQ(p.height, 36);
  EXPECT_EQ(p.width, 36);
  ASSERT_EQ(p.pixel_values.size(), size_t(2 * 3 * 36 * 36));
  ASSERT_EQ(p.pixel_mask.size(), size_t(2 * 36 * 36));
  for (uint8_t m : p.pixel_mask) ASSERT_EQ(m, 1);
  // Frame 0 is the two resizes then the table, channel planes in order.
  const Image r = resize_torch_aa(resize_torch_aa(v.frames[0], 108, 82, Resample::Bicubic), 36, 36, Resample::Bicubic);
  const auto lut = video_pixel_lut(c);
  for (int ch = 0; ch < 3; ++ch)
    for (int i = 0; i < 36 * 36; ++i) ASSERT_EQ(p.pixel_values[size_t(ch) * 36 * 36 + i], lut[size_t(ch) * 256 + r.rgb[size_t(i) * 3 + ch]]);
  EXPECT_FALSE(std::equal(p.pixel_values.begin(), p.pixel_values.begin() + 3 * 36 * 36,
                          p.pixel_values.begin() + 3 * 36 * 36));

  v.frames.push_back(pattern(32, 48, 1));
  EXPECT_NE(error_of([&] { preprocess_video(v, c); }).find("frame 2 is 32x48"), std::string::npos);
  v.frames.clear();
  EXPECT_NE(error_of([&] { preprocess_video(v, c); }).find("no frames"), std::string::npos);
  v.frames = {pattern(8, 8, 0)};
  c.resample = Resample::Nearest;
  EXPECT_NE(error_of([&] { preprocess_video(v, c); }).find("nearest"), std::string::npos);
}

TEST(VideoProcessorSettings, ReadAsTransformersReadsThem) {
  const auto dir = test::data_dir();
  // The fixture: published SmolVLM2 layout; `size` (108) replaces video_sampling.video_size (36).
  auto fixture = VideoProcessorConfig::load(dir / "video" / "processor");
  ASSERT_TRUE(fixture.has_value());
  EXPECT_EQ(fixture->fps, 1.0);
  EXPECT_EQ(fixture->max_frames, 64);
  EXPECT_EQ(fixture->longest_edge, 108);
  EXPECT_EQ(fixture->max_image_longest_edge, 36);
  EXPECT_EQ(fixture->resample, Resample::Lanczos);
  EXPECT_NE(fixture->source.find("preprocessor_config.json"), std::string::npos);
  // SmolVLM2-256M-Video-Instruct as published: video frames first resized to 2048 (its "size"),
  // then to 512² — not video_size's 512.
  auto published = VideoProcessorConfig::load(dir / "configs" / "SmolVLM2-256M-Video-Instruct");
  ASSERT_TRUE(published.has_value());
  EXPECT_EQ(published->fps, 1.0);
  EXPECT_EQ(published->max_frames, 64);
  EXPECT_EQ(published->longest_edge, 2048);
  EXPECT_EQ(published->max_image_longest_edge, 512);
  // A folder transformers 5.17 wrote: processor_config.json's "video_processor", with the class
  // defaults (1456, 364) and no sampling settings.
  auto written = VideoProcessorConfig::load(dir / "smolvlm_f32_s3");
  ASSERT_TRUE(written.has_value());
  EXPECT_FALSE(written->samples());
  EXPECT_EQ(written->longest_edge, 1456);
  EXPECT_EQ(written->max_image_longest_edge, 364);
  EXPECT_NE(written->source.find("processor_config.json video_processor"), std::string::npos);
  // ProcessorConfig::load carries it; no folder settings at all: nullopt.
  EXPECT_TRUE(ProcessorConfig::load(dir / "video" / "processor").video.has_value());
  EXPECT_FALSE(VideoProcessorConfig::load(dir / "images").has_value());

  const auto bad = [](const char* text) {
    return error_of([&] { VideoProcessorConfig::from_json(nlohmann::json::parse(text), "p.json"); });
  };
  EXPECT_NE(bad(R"({"video_sampling": {"max_frames": 4, "video_size": {"longest_edge": 8}}})").find("video_sampling.fps"),
            std::string::npos);
  EXPECT_NE(bad(R"({"video_sampling": {"fps": -1, "max_frames": 4, "video_size": {"longest_edge": 8}}})")
                .find("positive number of frames per second"),
            std::string::npos);
  EXPECT_NE(bad(R"({"video_sampling": {"fps": 1, "max_frames": 4}})").find("video_size"), std::string::npos);
  EXPECT_NE(bad(R"({"size": {"shortest_edge": 5}})").find("longest_edge"), std::string::npos);
  EXPECT_NE(bad(R"({"num_frames": 0})").find("positive number of frames"), std::string::npos);
  EXPECT_NE(bad(R"({"max_image_size": {"longest_edge": 5000}})").find("over the limit"), std::string::npos);
  EXPECT_NE(bad("[1]").find("expected a JSON object"), std::string::npos);
  // fps / num_frames at the top level (a 5.x save), and a square int size.
  auto top = VideoProcessorConfig::from_json(nlohmann::json::parse(R"({"fps": 2, "num_frames": 16, "size": 40})"), "t");
  EXPECT_EQ(top.fps, 2.0);
  EXPECT_EQ(top.max_frames, 16);
  EXPECT_EQ(top.size_height, 40);
  EXPECT_EQ(top.size_width, 40);
}
