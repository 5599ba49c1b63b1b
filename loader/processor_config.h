#pragma once
// The image-processor and processor settings of a checkpoint (preprocessor_config.json and
// processor_config.json), with transformers' SmolVLMImageProcessor / Idefics3ImageProcessor
// and SmolVLMProcessor / Idefics3Processor defaults for every missing key.
#include <array>
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "loader/resize.h"

namespace smolvk {

// Largest tile side (max_image_size.longest_edge) accepted: transformers' MAX_IMAGE_SIZE, the
// side every resized image is capped at. Published checkpoints use 364, 384 or 512.
inline constexpr int kMaxTileSide = 4096;

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

  // Reads model_dir/preprocessor_config.json (or the "image_processor" object of
  // processor_config.json when the former is absent) and model_dir/processor_config.json.
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
