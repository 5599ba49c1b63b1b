// decode_image (stb_image: PNG, JPEG, BMP, GIF, TGA, PNM, 8 and 16 bit) on arbitrary bytes,
// then the processor: resize, split into tiles, rescale, normalize, and a two-image batch.
// Size cap: images over 1024×1024 pixels are only probed (stbi_info), not decoded, so one run
// stays fast; the loader's own limits (image.h) are tested in tests/loader.
#include <stb/stb_image.h>

#include <cmath>
#include <vector>

#include "loader/error.h"
#include "loader/image.h"
#include "loader/preprocess.h"
#include "loader/processor_config.h"
#include "tests/fuzz/fuzz_targets.h"

namespace smolvk::fuzz {

namespace {
constexpr int64_t kFuzzMaxPixels = 1024 * 1024;

const std::vector<ProcessorConfig>& configs() {
  static const std::vector<ProcessorConfig> c = [] {
    std::vector<ProcessorConfig> v;
    for (const char* d : {"idefics3_f32", "smolvlm_bf16", "smolvlm_f32_s3"})
      v.push_back(ProcessorConfig::load(data_dir() / d));
    ProcessorConfig small;  // transformers' defaults, scaled down: 1 to 4x4 tiles of 32
    small.longest_edge = 128;
    small.max_image_longest_edge = 32;
    small.resample = Resample::Bilinear;
    v.push_back(small);
    return v;
  }();
  return c;
}
}  // namespace

int image(const uint8_t* data, size_t size) {
  if (size == 0 || size > (1u << 20)) return 0;
  int w = 0, h = 0, comp = 0;
  try {
    check_image_header(std::span(data, size), "fuzz.img");  // what stb must not see
  } catch (const LoadError&) {
    return 0;
  }
  if (stbi_info_from_memory(data, int(size), &w, &h, &comp) && int64_t(w) * h > kFuzzMaxPixels) return 0;
  const AlphaPolicy alpha = size % 2 ? AlphaPolicy::Drop : AlphaPolicy::CompositeOverWhite;
  Image img;
  try {
    img = decode_image(std::span(data, size), "fuzz.img", alpha);
  } catch (const LoadError&) {
    return 0;
  }
  if (img.width <= 0 || img.height <= 0 || img.rgb.size() != size_t(img.width) * img.height * 3)
    violated("decode_image gave " + std::to_string(img.width) + "x" + std::to_string(img.height) + " with " +
             std::to_string(img.rgb.size()) + " bytes");
  const ProcessorConfig& cfg = configs()[(size / 2) % configs().size()];
  const ProcessedImage p = preprocess_image(img, cfg);
  if (p.pixel_values.size() != size_t(p.num_tiles) * 3 * p.height * p.width) violated("pixel_values size");
  for (float v : p.pixel_values)
    if (!std::isfinite(v)) violated("non-finite pixel value");
  const std::vector<std::vector<Image>> rows = {{img}, {img, img}};
  const ProcessedBatch b = preprocess_batch(rows, cfg);
  if (b.pixel_values.size() != size_t(b.batch) * b.max_tiles * 3 * b.height * b.width) violated("batch size");
  return 0;
}

}  // namespace smolvk::fuzz
