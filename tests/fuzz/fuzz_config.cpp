// Every config reader on one JSON text: config.json (4.x and 5.x layouts), a flat
// preprocessor_config.json, processor_config.json with a nested "image_processor", and
// generation_config.json; then the size rules with the parsed processor settings.
#include <nlohmann/json.hpp>

#include "loader/config.h"
#include "loader/config_json.h"
#include "loader/error.h"
#include "loader/generation_config.h"
#include "loader/image.h"
#include "loader/preprocess.h"
#include "loader/processor_config.h"
#include "tests/fuzz/fuzz_targets.h"

namespace smolvk::fuzz {

namespace {
// The size rules, then the whole processor on a small image with these settings.
// Size cap: the processor runs only for resized sides up to 512 (a 4096-pixel resize takes a
// second under the sanitizers); the tile limits themselves are in tests/loader/test_limits.cpp.
void exercise(const ProcessorConfig& p) {
  static const Image tiny{5, 3, std::vector<uint8_t>(5 * 3 * 3, 200)};
  if ((!p.do_resize || p.longest_edge <= 512) && p.max_image_longest_edge <= 512) {
    const ProcessedImage out = preprocess_image(tiny, p);
    if (out.pixel_values.size() != size_t(out.num_tiles) * 3 * out.height * out.width) violated("pixel_values size");
  }
  for (auto [h, w] : {std::pair{1, 1}, {480, 640}, {4096, 3}, {3, 16384}}) {
    const auto [rh, rw] = resize_output_size(h, w, p.longest_edge);
    if (rh <= 0 || rw <= 0) violated("resize_output_size gave " + std::to_string(rh) + "x" + std::to_string(rw));
    (void)vision_encoder_size(rh, rw, p.max_image_longest_edge);
  }
}
}  // namespace

int config(const uint8_t* data, size_t size) {
  nlohmann::json j;
  try {
    j = parse_json_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const LoadError&) {
    return 0;
  }
  try {
    const ModelConfig c = parse_model_config(j, "config.json");
    if (c.image_seq_len() <= 0) violated("image_seq_len " + std::to_string(c.image_seq_len()));
    if (c.vision.head_dim <= 0 || c.text.head_dim <= 0) violated("head_dim");
  } catch (const LoadError&) {
  }
  try {
    exercise(ProcessorConfig::from_json(j, "preprocessor_config.json"));
  } catch (const LoadError&) {
  }
  try {
    if (j.is_object() && j.contains("image_processor"))
      exercise(ProcessorConfig::from_json(j["image_processor"], "processor_config.json image_processor", &j,
                                          "processor_config.json"));
  } catch (const LoadError&) {
  }
  try {
    (void)parse_generation_config(j, "generation_config.json");
  } catch (const LoadError&) {
  }
  return 0;
}

}  // namespace smolvk::fuzz
