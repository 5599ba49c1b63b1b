#pragma once
// The image-processor and processor settings of a checkpoint (preprocessor_config.json and
// processor_config.json), with transformers' SmolVLMImageProcessor / Idefics3ImageProcessor
// and SmolVLMProcessor / Idefics3Processor defaults for every missing key.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "loader/resize.h"

namespace smolvk {

// Largest tile side (max_image_size.longest_edge) accepted: transformers' MAX_IMAGE_SIZE, the
// side every resized image is capped at. Published checkpoints use 364, 384 or 512.
inline constexpr int kMaxTileSide = 4096;

// SmolVLMVideoProcessor's settings (transformers 5.17, models/smolvlm/video_processing_smolvlm.py),
// with its class defaults for missing keys. Published SmolVLM2 checkpoints keep them in
// preprocessor_config.json: `size`, `max_image_size`, ... and a `video_sampling` object
// {fps, max_frames, video_size}, whose video_size transformers replaces by `size` when both are
// there (SmolVLMVideoProcessor.__init__).
struct VideoProcessorConfig {
  std::string source;  // the file (and object) they were read from
  bool do_convert_rgb = true, do_resize = true, do_rescale = true, do_normalize = true, do_pad = true;
  // The first resize: the longest edge becomes `longest_edge` (the other side int(L / aspect),
  // bumped to even) — or, with size_height > 0, exactly size_height × size_width. Then every
  // frame is squashed to max_image_longest_edge². Videos are never split into tiles.
  int longest_edge = 4 * 364;
  int size_height = 0, size_width = 0;
  int max_image_longest_edge = 364;
  Resample resample = Resample::Lanczos;  // torchvision < 0.27 resizes LANCZOS as BICUBIC
  double rescale_factor = 1.0 / 255.0;
  std::array<double, 3> image_mean{0.5, 0.5, 0.5};
  std::array<double, 3> image_std{0.5, 0.5, 0.5};
  // Frame sampling: target frames per second and most frames (video_sampling.fps / max_frames,
  // or "fps" / "num_frames"). apply_chat_template passes both to the processor, which samples
  // when either is set; with neither, every frame of the video is used.
  std::optional<double> fps;
  std::optional<int64_t> max_frames;
  bool samples() const { return fps.has_value() || max_frames.has_value(); }
  // The side of every processed frame (the vision encoder's input).
  int frame_side() const { return max_image_longest_edge; }

  // LoadError naming `source` and the key for a bad value.
  static VideoProcessorConfig from_json(const nlohmann::json& video_processor, const std::string& source);
  // transformers 5.17's order (BaseVideoProcessor.get_video_processor_dict): the
  // "video_processor" object of processor_config.json, else video_preprocessor_config.json,
  // else preprocessor_config.json; nullopt when the folder has none of them.
  static std::optional<VideoProcessorConfig> load(const std::filesystem::path& model_dir);
};

struct ProcessorConfig {
  // Defaults: the one table of transformers' class defaults (both model families agree).
  bool do_convert_rgb = true;
  bool do_resize = true;
  int longest_edge = 4 * 364;        // size.longest_edge
  int max_image_longest_edge = 364;  // max_image_size.longest_edge: the tile side M
  Resample resample = Resample::Lanczos;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean{0.5, 0.5, 0.5};  // IMAGENET_STANDARD_MEAN
  std::array<double, 3> image_std{0.5, 0.5, 0.5};   // IMAGENET_STANDARD_STD
  bool do_image_splitting = true;
  bool do_pad = true;
  int image_seq_len = 169;  // processor_config.json; <image> tokens per tile
  // The video processor (SmolVLM only), set by load(): absent when the folder has no video
  // processor settings. video_error: why they could not be read ("" if they could), kept to
  // be reported when a video is given, so that a bad video section does not stop image use.
  std::optional<VideoProcessorConfig> video;
  std::string video_error;

  // Reads model_dir/preprocessor_config.json (or the "image_processor" object of
  // processor_config.json when the former is absent) and model_dir/processor_config.json,
  // and the video processor settings (VideoProcessorConfig::load).
  static ProcessorConfig load(const std::filesystem::path& model_dir);
  // LoadError unless image_seq_len == (image_size / patch_size)² / scale_factor² and the tile
  // side equals the vision image_size (the model config's values; `model_source` names it).
  void check_against_model(int image_size, int patch_size, int scale_factor, const std::string& model_source) const;

  // `processor` (processor_config.json) may be null; the sources name the files in errors.
  static ProcessorConfig from_json(const nlohmann::json& image_processor, const std::string& source,
                                   const nlohmann::json* processor = nullptr,
                                   const std::string& processor_source = "processor_config.json");
};

}  // namespace smolvk
