#pragma once
// transformers' SmolVLM / Idefics3 image processor, PIL backend: resize, split into tiles,
// rescale, normalize, pad to a batch. Output layouts match the processor's tensors.
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "loader/image.h"
#include "loader/processor_config.h"

namespace smolvk {

// Tile grid of one image: rows = cols = 0 for an image that was not split.
struct ImageGrid {
  int rows = 0, cols = 0;
  bool operator==(const ImageGrid&) const = default;
};

struct ProcessedImage {
  int rows = 0, cols = 0;
  int num_tiles = 0;                // rows*cols + 1 (global image last), or 1 when unsplit
  int height = 0, width = 0;        // of every tile
  std::vector<float> pixel_values;   // [num_tiles, 3, height, width] (PixelForm::Floats)
  std::vector<uint8_t> pixel_bytes;  // the same before rescale and normalize (PixelForm::Bytes)
  std::vector<uint8_t> pixel_mask;   // [num_tiles, height, width], 1 = real pixel
  ImageGrid grid() const { return {rows, cols}; }
};

// Most tiles one image may be split into (rows × cols; the global tile comes on top). A
// 4096-pixel image in 364-pixel tiles gives 12 × 12 = 144; a tiny tile side in a hand-edited
// config would otherwise make millions of tiles.
inline constexpr int kMaxTilesPerImage = 1024;

// The processor's output: its float pixel_values, or the tiles' bytes before the last step
// (rescale and normalize), which pixel_lut turns into the same floats, on the host
// (normalize_pixels) or on the device (ops::im2col with a lut), from a quarter of the bytes.
enum class PixelForm { Floats, Bytes };

// `image` is already RGB (decode_image applies do_convert_rgb's conversion).
ProcessedImage preprocess_image(const Image& image, const ProcessorConfig& config,
                                PixelForm form = PixelForm::Floats);

// The processor's rescale and normalize as a table [3 · 256]: entry c · 256 + v is the float
// a byte v of channel c becomes (Python's float64 rescale cast to float32, then float32
// normalize, as transformers computes it).
std::vector<float> pixel_lut(const ProcessorConfig& config);
// Bytes [tiles, C, H, W] → floats through a table [C · 256]; plane = H · W.
std::vector<float> normalize_pixels(std::span<const uint8_t> bytes, std::span<const float> lut, int64_t plane);
// What preprocess_image would give for `image` but the pixels: grid, tile count and size
// (pixel_values and pixel_mask stay empty). Checks the image and the tile limit the same way.
ProcessedImage image_layout(const Image& image, const ProcessorConfig& config);

// The processor's size rules, as (height, width); exposed for tests.
// Longest edge becomes exactly `longest_edge`, the other int(L / aspect) bumped to even, both
// then capped at 4096 (transformers' MAX_IMAGE_SIZE).
std::pair<int, int> resize_output_size(int height, int width, int longest_edge);
// Both edges rounded up to multiples of `tile`, the shorter one derived from the aspect first.
std::pair<int, int> vision_encoder_size(int height, int width, int tile);

struct ProcessedBatch {
  int batch = 0, max_tiles = 0, height = 0, width = 0;
  std::vector<float> pixel_values;            // [batch, max_tiles, 3, height, width]
  std::vector<uint8_t> pixel_mask;            // [batch, max_tiles, height, width]
  std::vector<std::vector<ImageGrid>> grids;  // per batch row, per image
};

// rows[b] holds batch row b's images in prompt order; their tiles are concatenated, then
// every row is zero-padded to the largest tile count and every tile to the largest H×W.
ProcessedBatch pad_batch(std::span<const std::vector<ProcessedImage>> rows);
ProcessedBatch preprocess_batch(std::span<const std::vector<Image>> rows, const ProcessorConfig& config);

}  // namespace smolvk
