#pragma once
// `smolvk info --model DIR`: what a checkpoint folder holds, from its files alone (no device):
// shapes, tiling, parameter count and the device memory its weights take.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "loader/config.h"
#include "loader/preprocess.h"
#include "loader/processor_config.h"

namespace smolvk::cli {

struct ModelSummary {
  std::filesystem::path dir;
  ModelConfig config;
  ProcessorConfig processor;
  std::string processor_note;  // empty when the folder's processor files were read
  ProcessedImage layout_2048;  // the tiles of a 2048 x 2048 image (no pixels)
  bool have_weights = false;
  std::string weights_source;  // the safetensors file or index, or why there are none
  uint64_t parameters = 0;     // from the safetensors headers, else from config.json
  uint64_t weight_bytes = 0;   // on the device: the checkpoint's dtype, which the runtime keeps
  std::string weight_dtype;    // "BF16", "F32", ... ("mixed" when several)
  bool f32_as_bf16 = false;    // --dtype bf16: the F32 tensors counted as bf16 (LoadOptions)
};

// Parameters of the tensors a checkpoint of `c` holds (vision encoder, connector, text model,
// lm_head unless tied), from the shapes the config implies.
uint64_t parameter_count(const ModelConfig& c);

// Reads DIR's config.json (required), processor configs and safetensors headers. LoadError
// naming the file on a bad config.json.
// `f32_as_bf16`: the memory as `--dtype bf16` loads it (f32 tensors kept as bf16).
ModelSummary summarize_model(const std::filesystem::path& dir, bool f32_as_bf16 = false);

std::string format_summary(const ModelSummary& s);
nlohmann::json summary_json(const ModelSummary& s);

}  // namespace smolvk::cli
