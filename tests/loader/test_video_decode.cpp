// Video decoding with Debian's FFmpeg libraries (loader/video.h) against the ffmpeg CLI: every
// frame's RGB24 bytes equal what `ffmpeg -i F -sws_flags bilinear -pix_fmt rgb24` gives
// (CRC32 of each frame, tests/data/video/*.framehash), the sampled frames equal the committed
// PNGs, the metadata is torchcodec's exact-mode scan, and bad input is refused by name.
// The files and the commands that made them: tests/data/video/README.md.
#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "loader/error.h"
#include "loader/image.h"
#include "loader/video.h"
#include "tests/loader/error_of.h"
#include "tests/test_util.h"

using namespace smolvk;
using test::error_of;

namespace {

const std::filesystem::path kDir = test::data_dir() / "video";

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// zlib's CRC-32 (the ffmpeg framehash muxer's "CRC32", printed as 8 hex digits).
uint32_t crc32(const std::vector<uint8_t>& bytes) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// The hash column of a framehash file, frame by frame.
std::vector<uint32_t> framehashes(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<uint32_t> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    out.push_back(uint32_t(std::stoul(line.substr(line.rfind(',') + 1), nullptr, 16)));
  }
  return out;
}

void expect_frames_match_cli(const Video& v, const std::filesystem::path& framehash_file) {
  const std::vector<uint32_t> ref = framehashes(framehash_file);
  ASSERT_EQ(v.frames.size(), v.metadata.frame_indices.size());
  for (size_t i = 0; i < v.frames.size(); ++i) {
    const int64_t f = v.metadata.frame_indices[i];
    ASSERT_LT(size_t(f), ref.size()) << framehash_file;
    EXPECT_EQ(crc32(v.frames[i].rgb), ref[size_t(f)]) << "frame " << f << " of " << v.source;
  }
}

}  // namespace

TEST(VideoDecode, Mp4EveryFrameEqualsFfmpegCli) {
  const Video v = load_video(kDir / "moving_64x48_10fps.mp4");
  // torchcodec's scan: 35 packets from pts 0 to 35 · 1024 in a 1/10240 time base.
  EXPECT_EQ(v.metadata.total_frames, 35);
  EXPECT_EQ(v.metadata.duration, 3.5);
  EXPECT_EQ(v.metadata.fps, 10.0);
  EXPECT_EQ(v.metadata.width, 64);
  EXPECT_EQ(v.metadata.height, 48);
  ASSERT_EQ(v.frames.size(), 35u);
  for (size_t i = 0; i < v.frames.size(); ++i) EXPECT_EQ(v.metadata.frame_indices[i], int64_t(i));
  EXPECT_EQ(v.frames[0].width, 64);
  EXPECT_EQ(v.frames[0].height, 48);
  expect_frames_match_cli(v, kDir / "moving_64x48_10fps.mp4.framehash");
}

TEST(VideoDecode, MjpegAviFullRangeOddHeightEqualsFfmpegCli) {
  // yuvj422p (full range) at 40x29: swscale's general path, not the unscaled converter.
  const Video v = load_video(kDir / "moving_40x29_5fps.avi");
  EXPECT_EQ(v.metadata.total_frames, 7);
  EXPECT_EQ(v.metadata.duration, 7.0 / 5.0);  // pts 0..6 of duration 1 in 1/5: (7 · 1) / 5
  EXPECT_EQ(v.metadata.fps, 7.0 / (7.0 / 5.0));
  ASSERT_EQ(v.frames.size(), 7u);
  EXPECT_EQ(v.frames[0].width, 40);
  EXPECT_EQ(v.frames[0].height, 29);
  expect_frames_match_cli(v, kDir / "moving_40x29_5fps.avi.framehash");
}

TEST(VideoDecode, SampledFramesEqualTheCommittedPngs) {
  const auto info = nlohmann::json::parse(std::ifstream(kDir / "frames" / "frames.json"));
  const auto config = VideoProcessorConfig::load(kDir / "processor");
  ASSERT_TRUE(config.has_value());
  const Video v = load_video(kDir / info.at("video").get<std::string>(), frame_sampler(*config));
  EXPECT_EQ(v.metadata.frame_indices, info.at("frames_indices").get<std::vector<int64_t>>());
  EXPECT_EQ(v.metadata.total_frames, info.at("total_num_frames").get<int64_t>());
  EXPECT_EQ(v.metadata.fps, info.at("fps").get<double>());
  EXPECT_EQ(v.metadata.duration, info.at("duration").get<double>());
  const auto files = info.at("frames").get<std::vector<std::string>>();
  ASSERT_EQ(v.frames.size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    const Image png = load_image(kDir / "frames" / files[i]);
    EXPECT_EQ(png.width, v.frames[i].width);
    EXPECT_EQ(png.height, v.frames[i].height);
    EXPECT_TRUE(png.rgb == v.frames[i].rgb) << files[i];
  }
  expect_frames_match_cli(v, kDir / "moving_64x48_10fps.mp4.framehash");
}

TEST(VideoDecode, FromMemoryEqualsFromFile) {
  for (const char* name : {"moving_64x48_10fps.mp4", "moving_40x29_5fps.avi"}) {
    const auto bytes = read_bytes(kDir / name);
    const FrameSampler every_other = [](const VideoMetadata& m) {
      std::vector<int64_t> idx;
      for (int64_t i = 0; i < m.total_frames; i += 2) idx.push_back(i);
      return idx;
    };
    const Video a = load_video(kDir / name, every_other);
    const Video b = decode_video(bytes, "memory", every_other);
    EXPECT_EQ(b.source, "memory");
    EXPECT_EQ(a.metadata.frame_indices, b.metadata.frame_indices);
    EXPECT_EQ(a.metadata.total_frames, b.metadata.total_frames);
    EXPECT_EQ(a.metadata.duration, b.metadata.duration);
    ASSERT_EQ(a.frames.size(), b.frames.size());
    for (size_t i = 0; i < a.frames.size(); ++i) EXPECT_TRUE(a.frames[i].rgb == b.frames[i].rgb) << name << " " << i;
  }
}

TEST(VideoDecode, BadInputIsRefusedByName) {
  const auto has = [](const std::string& msg, const std::string& what) {
    return msg.find(what) != std::string::npos;
  };
  std::string e = error_of([&] { load_video(kDir / "no_such_file.mp4"); });
  EXPECT_TRUE(has(e, "no_such_file.mp4") && has(e, "no such file")) << e;
  e = error_of([&] { load_video(kDir / "README.md"); });  // text
  EXPECT_TRUE(has(e, "README.md") && has(e, "expected a video")) << e;
  e = error_of([&] { load_video(kDir / "audio_only.wav"); });
  EXPECT_TRUE(has(e, "audio_only.wav") && has(e, "no video stream")) << e;
  e = error_of([&] { load_video(kDir / "no_frames.avi"); });
  EXPECT_TRUE(has(e, "no_frames.avi") && has(e, "no frames")) << e;
  e = error_of([&] { decode_video({}, "empty.mp4"); });
  EXPECT_TRUE(has(e, "empty.mp4") && has(e, "empty")) << e;
  const std::vector<uint8_t> noise(4096, 0x5a);
  e = error_of([&] { decode_video(noise, "noise.bin"); });
  EXPECT_TRUE(has(e, "noise.bin") && has(e, "expected a video")) << e;

  // Truncated: the index (moov first) promises 35 frames that are not all there.
  auto mp4 = read_bytes(kDir / "moving_64x48_10fps.mp4");
  for (size_t keep : {size_t(200), mp4.size() / 2, mp4.size() - 300}) {
    const std::vector<uint8_t> cut(mp4.begin(), mp4.begin() + ptrdiff_t(keep));
    e = error_of([&] { decode_video(cut, "cut.mp4", [](const VideoMetadata& m) {
      return std::vector<int64_t>{m.total_frames - 1};
    }); });
    EXPECT_TRUE(has(e, "cut.mp4")) << keep << ": " << e;
  }
  // Bytes damaged in the middle of the stream data.
  auto damaged = mp4;
  for (size_t i = damaged.size() / 2; i < damaged.size() / 2 + 600; ++i) damaged[i] = uint8_t(i * 37);
  try {
    const Video v = decode_video(damaged, "damaged.mp4");
    EXPECT_EQ(v.frames.size(), v.metadata.frame_indices.size());  // concealed: frames, not a crash
  } catch (const LoadError& err) {
    EXPECT_TRUE(has(err.what(), "damaged.mp4")) << err.what();
  }
}

TEST(VideoDecode, LimitsAndSamplerAreCheckedBeforeDecoding) {
  const auto mp4 = kDir / "moving_64x48_10fps.mp4";
  VideoLimits small_side;
  small_side.max_side = 32;
  std::string e = error_of([&] { load_video(mp4, {}, small_side); });
  EXPECT_NE(e.find("64x48 is over the limit"), std::string::npos) << e;
  VideoLimits few_pixels;
  few_pixels.max_frame_pixels = 1000;
  e = error_of([&] { load_video(mp4, {}, few_pixels); });
  EXPECT_NE(e.find("over the limit"), std::string::npos) << e;
  VideoLimits few_frames;
  few_frames.max_frames = 10;
  e = error_of([&] { load_video(mp4, {}, few_frames); });
  EXPECT_NE(e.find("35 frames sampled, over the limit of 10"), std::string::npos) << e;
  VideoLimits few_bytes;
  few_bytes.max_frame_bytes = 64 * 48 * 3 * 2;
  e = error_of([&] { load_video(mp4, {}, few_bytes); });
  EXPECT_NE(e.find("bytes of RGB"), std::string::npos) << e;
  EXPECT_EQ(load_video(mp4, [](const VideoMetadata&) { return std::vector<int64_t>{3, 4}; }, few_bytes).frames.size(),
            2u);
  for (const std::vector<int64_t>& bad : {std::vector<int64_t>{}, {4, 3}, {2, 2}, {-1}, {35}}) {
    e = error_of([&] { load_video(mp4, [&](const VideoMetadata&) { return bad; }); });
    EXPECT_NE(e.find("moving_64x48_10fps.mp4"), std::string::npos) << e;
  }
  // A sampler's own LoadError passes through.
  e = error_of([&] { load_video(mp4, [](const VideoMetadata&) -> std::vector<int64_t> { throw LoadError("nope"); }); });
  EXPECT_EQ(e, "nope");
}
