#pragma once
// Decoded 8-bit RGB images, converted from whatever the file holds the way transformers'
// SmolVLM / Idefics3 processors convert a PIL image (see AlphaPolicy).
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace smolvk {

// Refuse absurd images before allocating them. Every image limit lives here.
inline constexpr int kMaxImageSide = 16384;
inline constexpr int64_t kMaxImagePixels = 100'000'000;
inline constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel

  const uint8_t* pixel(int x, int y) const { return rgb.data() + (size_t(y) * width + x) * 3; }
};

// How a transparent image becomes RGB.
enum class AlphaPolicy {
  // Plain PIL convert("RGB"): the alpha channel is dropped. transformers 5.x's PIL backend
  // (PilBackend.convert_to_rgb → image_transforms.convert_to_rgb) does this; the goldens,
  // made with transformers 5.17, confirm it.
  Drop,
  // convert("RGBA") + Image.alpha_composite over opaque white + convert("RGB"), with PIL's
  // integer rounding: what transformers 4.x's SmolVLM / Idefics3 `convert_to_rgb` did.
  CompositeOverWhite,
};

// PNG, JPEG (libjpeg-turbo, as PIL), WebP (libwebp, as PIL; still images), BMP, GIF (first
// frame), TGA, PNM. 16-bit PNGs follow PIL: RGB(A) and grey+alpha
// keep the high byte of each sample (PIL opens them as 8-bit modes); 16-bit grey opens as
// mode I and convert("RGB") clips it to 255. Throws LoadError naming the file and the problem.
Image load_image(const std::filesystem::path& path, AlphaPolicy alpha = AlphaPolicy::Drop);
// Throws LoadError for a header that stb_image 2.27 mis-parses (a PNG chunk past the end of the
// file, a PNM number of more than 9 digits). decode_image calls it; so must anything that hands
// the bytes to stb itself (the fuzz harness's size probe).
void check_image_header(std::span<const uint8_t> bytes, const std::string& source_name);

// The width and height a file's header states, without decoding it; false for a format it
// does not recognise (decode_image then says why). Throws LoadError for a header stb mis-parses.
bool image_size(std::span<const uint8_t> bytes, const std::string& source_name, int& width, int& height);

Image decode_image(std::span<const uint8_t> bytes, const std::string& source_name,
                   AlphaPolicy alpha = AlphaPolicy::Drop);

// One pixel of Image.alpha_composite(opaque white, (v, alpha)) in PIL's fixed point.
uint8_t composite_over_white(uint8_t v, uint8_t alpha);

}  // namespace smolvk
