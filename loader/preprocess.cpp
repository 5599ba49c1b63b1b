#include "loader/preprocess.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "loader/error.h"
#include "loader/resize.h"

namespace smolvk {
namespace {

constexpr int kMaxProcessedSide = 4096;  // transformers' MAX_IMAGE_SIZE

Image crop(const Image& in, int x0, int y0, int w, int h) {
  Image out{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (int y = 0; y < h; ++y) std::copy_n(in.pixel(x0, y0 + y), size_t(w) * 3, out.rgb.data() + size_t(y) * w * 3);
  return out;
}

// Planar [3, H, W] bytes of an interleaved RGB tile.
void to_planes(const Image& tile, uint8_t* out) {
  const size_t plane = size_t(tile.width) * tile.height;
  for (int c = 0; c < 3; ++c)
    for (size_t i = 0; i < plane; ++i) out[c * plane + i] = tile.rgb[i * 3 + c];
}

}  // namespace

std::pair<int, int> resize_output_size(int height, int width, int longest_edge) {
  // _resize_output_size_rescale_to_max_len, then _resize_output_size_scale_below_upper_bound.
  double aspect = double(width) / height;
  if (width >= height) {
    width = longest_edge;
    height = int(width / aspect);
    if (height % 2 != 0) ++height;
  } else {
    height = longest_edge;
    width = int(height * aspect);
    if (width % 2 != 0) ++width;
  }
  height = std::max(height, 1);
  width = std::max(width, 1);

  aspect = double(width) / height;
  if (width >= height && width > kMaxProcessedSide) {
    width = kMaxProcessedSide;
    height = int(width / aspect);
  } else if (height > width && height > kMaxProcessedSide) {
    height = kMaxProcessedSide;
    width = int(height * aspect);
  }
  return {std::max(height, 1), std::max(width, 1)};
}

std::pair<int, int> vision_encoder_size(int height, int width, int tile) {
  const double aspect = double(width) / height;
  const auto round_up = [tile](double v) { return int(std::ceil(v / tile)) * tile; };
  if (width >= height) {
    width = round_up(width);
    height = round_up(double(int(width / aspect)));
  } else {
    height = round_up(height);
    width = round_up(double(int(height * aspect)));
  }
  return {height, width};
}

namespace {

// The sizes preprocess_image works through: after the first resize, after the second (the
// split canvas, or the one tile), and the tile grid.
struct Plan {
  int resized_h = 0, resized_w = 0, canvas_h = 0, canvas_w = 0;
  ProcessedImage layout;
};

Plan plan(const Image& image, const ProcessorConfig& cfg) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != size_t(image.width) * image.height * 3)
    throw LoadError("preprocess_image: image " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                    " with " + std::to_string(image.rgb.size()) + " bytes, expected width*height*3 RGB bytes");
  const int M = cfg.max_image_longest_edge;
  Plan p;
  p.resized_h = image.height;
  p.resized_w = image.width;
  if (cfg.do_resize)
    std::tie(p.resized_h, p.resized_w) = resize_output_size(image.height, image.width, cfg.longest_edge);
  ProcessedImage& out = p.layout;
  out.num_tiles = 1;
  out.height = out.width = M;
  if (cfg.do_image_splitting) {
    std::tie(p.canvas_h, p.canvas_w) = vision_encoder_size(p.resized_h, p.resized_w, M);
    if (p.canvas_h > M || p.canvas_w > M) {
      out.rows = (p.canvas_h - M) / M + 1;
      out.cols = (p.canvas_w - M) / M + 1;
      if (int64_t(out.rows) * out.cols > kMaxTilesPerImage)  // before anything is allocated
        throw LoadError("preprocess_image: " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                        " image in " + std::to_string(M) + "-pixel tiles (max_image_size.longest_edge) would make " +
                        std::to_string(out.rows) + "x" + std::to_string(out.cols) + " tiles, over the limit of " +
                        std::to_string(kMaxTilesPerImage) + " per image");
      out.num_tiles = out.rows * out.cols + 1;
    } else {
      out.height = p.canvas_h;
      out.width = p.canvas_w;
    }
  }
  return p;
}

}  // namespace

ProcessedImage image_layout(const Image& image, const ProcessorConfig& cfg) { return plan(image, cfg).layout; }

std::vector<float> pixel_lut(const ProcessorConfig& cfg) {
  // Python's rescale (float64 product, cast to float32) then normalize (float32 arithmetic).
  std::vector<float> lut(3 * 256);
  for (int c = 0; c < 3; ++c) {
    const float mean = float(cfg.image_mean[c]), std = float(cfg.image_std[c]);
    for (int p = 0; p < 256; ++p) {
      float v = cfg.do_rescale ? float(double(p) * cfg.rescale_factor) : float(p);
      if (cfg.do_normalize) v = (v - mean) / std;
      lut[size_t(c * 256 + p)] = v;
    }
  }
  return lut;
}

std::vector<float> normalize_pixels(std::span<const uint8_t> bytes, std::span<const float> lut, int64_t plane) {
  const int64_t channels = int64_t(lut.size()) / 256;
  if (plane <= 0 || channels <= 0 || lut.size() % 256 != 0 || bytes.size() % size_t(channels * plane) != 0)
    throw LoadError("normalize_pixels: " + std::to_string(bytes.size()) + " bytes are not whole tiles of " +
                    std::to_string(channels) + " planes of " + std::to_string(plane) + " pixels");
  std::vector<float> out(bytes.size());
  for (size_t at = 0; at < bytes.size(); at += size_t(plane)) {
    const float* table = &lut[(at / size_t(plane)) % size_t(channels) * 256];
    for (size_t i = at; i < at + size_t(plane); ++i) out[i] = table[bytes[i]];
  }
  return out;
}

ProcessedImage preprocess_image(const Image& image, const ProcessorConfig& cfg, PixelForm form) {
  const Plan p = plan(image, cfg);
  const int M = cfg.max_image_longest_edge;
  Image cur = image;
  if (cfg.do_resize) cur = resize(cur, p.resized_w, p.resized_h, cfg.resample);
  ProcessedImage out = p.layout;
  std::vector<Image> tiles;
  if (cfg.do_image_splitting) {
    cur = resize(cur, p.canvas_w, p.canvas_h, cfg.resample);
    if (out.rows) {
      for (int r = 0; r < out.rows; ++r)
        for (int c = 0; c < out.cols; ++c) tiles.push_back(crop(cur, c * M, r * M, M, M));
      tiles.push_back(resize(cur, M, M, cfg.resample));
    } else {
      tiles.push_back(std::move(cur));
    }
  } else {
    tiles.push_back(resize(cur, M, M, cfg.resample));
  }

  out.num_tiles = int(tiles.size());
  out.height = tiles[0].height;
  out.width = tiles[0].width;
  const size_t plane = size_t(out.height) * out.width;
  out.pixel_bytes.resize(tiles.size() * 3 * plane);
  out.pixel_mask.assign(tiles.size() * plane, 1);
  for (size_t t = 0; t < tiles.size(); ++t) to_planes(tiles[t], out.pixel_bytes.data() + t * 3 * plane);
  if (form == PixelForm::Floats) {
    out.pixel_values = normalize_pixels(out.pixel_bytes, pixel_lut(cfg), int64_t(plane));
    out.pixel_bytes = {};
  }
  return out;
}

ProcessedBatch pad_batch(std::span<const std::vector<ProcessedImage>> rows) {
  ProcessedBatch b;
  b.batch = int(rows.size());
  for (const auto& row : rows) {
    int tiles = 0;
    std::vector<ImageGrid> grids;
    for (const auto& im : row) {
      const size_t plane = size_t(im.height) * im.width;
      if (im.num_tiles <= 0 || im.pixel_values.size() != size_t(im.num_tiles) * 3 * plane ||
          im.pixel_mask.size() != size_t(im.num_tiles) * plane)
        throw LoadError("pad_batch: processed image with " + std::to_string(im.num_tiles) + " tiles of " +
                        std::to_string(im.height) + "x" + std::to_string(im.width) +
                        " has inconsistent pixel_values/pixel_mask sizes");
      tiles += im.num_tiles;
      b.height = std::max(b.height, im.height);
      b.width = std::max(b.width, im.width);
      grids.push_back(im.grid());
    }
    b.max_tiles = std::max(b.max_tiles, tiles);
    b.grids.push_back(std::move(grids));
  }
  const size_t plane = size_t(b.height) * b.width;
  b.pixel_values.assign(size_t(b.batch) * b.max_tiles * 3 * plane, 0.0f);
  b.pixel_mask.assign(size_t(b.batch) * b.max_tiles * plane, 0);
  for (int r = 0; r < b.batch; ++r) {
    size_t tile = size_t(r) * b.max_tiles;
    for (const auto& im : rows[r]) {
      for (int t = 0; t < im.num_tiles; ++t, ++tile) {
        for (int y = 0; y < im.height; ++y) {
          const size_t src_row = (size_t(t) * im.height + y) * im.width;
          std::copy_n(im.pixel_mask.data() + src_row, im.width,
                      b.pixel_mask.data() + tile * plane + size_t(y) * b.width);
          for (int c = 0; c < 3; ++c)
            std::copy_n(im.pixel_values.data() + (size_t(t) * 3 + c) * im.height * im.width + size_t(y) * im.width,
                        im.width, b.pixel_values.data() + (tile * 3 + c) * plane + size_t(y) * b.width);
        }
      }
    }
  }
  return b;
}

ProcessedBatch preprocess_batch(std::span<const std::vector<Image>> rows, const ProcessorConfig& cfg) {
  std::vector<std::vector<ProcessedImage>> processed(rows.size());
  for (size_t r = 0; r < rows.size(); ++r)
    for (const auto& im : rows[r]) processed[r].push_back(preprocess_image(im, cfg));
  if (!cfg.do_pad) {
    // transformers then returns ragged lists; a dense [B, N, 3, H, W] needs them uniform.
    const ProcessedBatch b = pad_batch(processed);
    for (int v : b.pixel_mask)
      if (v == 0)
        throw LoadError(
            "preprocess_batch: do_pad is false but the batch's images differ in tile size or "
            "tile count; a dense pixel_values tensor needs do_pad true");
    return b;
  }
  return pad_batch(processed);
}

}  // namespace smolvk
