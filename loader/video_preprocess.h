#pragma once
// transformers 5.17's SmolVLM video processor (models/smolvlm/video_processing_smolvlm.py) on
// decoded frames: which frames it samples, how each frame is resized (torchvision's antialiased
// uint8 resize, as SmolVLMVideoProcessor.resize calls it) and normalized. No FFmpeg here:
// loader/video.h decodes files into a Video.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "loader/image.h"
#include "loader/processor_config.h"
#include "loader/resize.h"

namespace smolvk {

// Most frames one video may give the model (after sampling). A checkpoint that samples keeps
// max_frames (64 for SmolVLM2); one without sampling settings takes every frame, as
// transformers does, up to this.
inline constexpr int64_t kMaxVideoFrames = 1024;
// Most bytes of RGB the kept frames of one video may take before preprocessing (64 frames of
// 4096² fit).
inline constexpr uint64_t kMaxVideoFrameBytes = uint64_t(4) << 30;

// What transformers' VideoMetadata holds, as its default decoder (torchcodec, seek_mode
// "exact") measures it: total_frames = the stream's packets, duration = the end of the last
// packet − the start of the first (seconds), fps = total_frames / duration.
struct VideoMetadata {
  int64_t total_frames = 0;
  double fps = 0;
  double duration = 0;
  int width = 0, height = 0;
  std::vector<int64_t> frame_indices;  // the frames kept, ascending
  // frame_indices[i] / fps (VideoMetadata.timestamps).
  std::vector<double> timestamps() const;
};

// A decoded video: the kept frames (RGB, at the stream's size), in frame_indices order.
struct Video {
  VideoMetadata metadata;
  std::vector<Image> frames;
  std::string source;  // the file or URL it came from, for messages
};

// Which frames to keep, given the stream's metadata (indices ascending, each < total_frames).
using FrameSampler = std::function<std::vector<int64_t>(const VideoMetadata&)>;

// SmolVLMVideoProcessor.sample_frames: round(fps · duration) frames (Python's round, halves to
// even), at most max_frames, at least 1; skip_secs cut from both ends when the video is longer
// than 2 · skip_secs + max_frames · fps seconds; then np.linspace(start, end, n, dtype=int)
// (floor of i · step + start, the last one exactly end) and np.unique. LoadError when the
// metadata has no frames or no positive fps.
std::vector<int64_t> sample_video_frames(const VideoMetadata& metadata, int64_t max_frames, double fps,
                                         double skip_secs = 1.0);

// The frames the checkpoint's processor takes: sample_video_frames with its fps and max_frames
// (apply_chat_template sets do_sample_frames when either is set), or every frame when it has
// neither. LoadError when only one of the two is set (transformers fails on None), or when more
// than kMaxVideoFrames frames would be kept.
std::vector<int64_t> video_frame_indices(const VideoMetadata& metadata, const VideoProcessorConfig& config);
FrameSampler frame_sampler(const VideoProcessorConfig& config);

// get_resize_output_image_size of video_processing_smolvlm.py: the longest edge becomes
// min(longest_edge, 4096), the other int(L / aspect) (or int(L · aspect)) bumped to even.
// (height, width).
std::pair<int, int> video_resize_size(int height, int width, int longest_edge);

// torchvision.transforms.v2.functional.resize of a uint8 image with antialias=True, as
// torch 2.11 computes it on the CPU (aten/src/ATen/native/cpu/UpSampleKernel.cpp,
// separable_upsample_generic_Nd_kernel_impl for uint8): per pass (width first, then height,
// each only when that side changes) double weights from the filter (Keys cubic a = -0.5, or
// the triangle), normalized, scaled to int16 with a per-pass precision, accumulated in int
// with a rounding bias, shifted and clamped. `filter`: Bicubic or Bilinear (LoadError
// otherwise). The same size returns the image unchanged.
Image resize_torch_aa(const Image& src, int width, int height, Resample filter);

// The processor's rescale and normalize of a byte v of channel c, entry c · 256 + v:
// TorchvisionBackend.rescale_and_normalize fuses them into normalize(float32(v), mean / rf,
// std / rf) with float32 mean and std tensors.
std::vector<float> video_pixel_lut(const VideoProcessorConfig& config);

// The processor's frames: [frames, 3, side, side] floats and a [frames, side, side] mask of
// ones (every frame of a video has one size: nothing to pad).
struct ProcessedVideo {
  int frames = 0, height = 0, width = 0;
  std::vector<float> pixel_values;
  std::vector<uint8_t> pixel_mask;
};

// SmolVLMVideoProcessor._preprocess of one video: per frame, resize to video_resize_size (or
// size_height × size_width), then to max_image_longest_edge², then video_pixel_lut. LoadError
// for frames of different sizes, an empty video, or a resample filter other than
// LANCZOS / BICUBIC (both BICUBIC in torchvision 0.26) or BILINEAR.
ProcessedVideo preprocess_video(const Video& video, const VideoProcessorConfig& config);

}  // namespace smolvk
