#pragma once
// Pillow's Image.resize (no box, no reducing_gap) on 8-bit RGB, bit for bit: the separable
// two-pass convolution of libImaging/Resample.c with its coefficient rounding, and the
// nearest-neighbour affine scale of libImaging/Geometry.c.
#include <string>

#include "loader/image.h"

namespace smolvk {

// Values are PIL's Image.Resampling ids, as written in preprocessor_config.json "resample".
enum class Resample { Nearest = 0, Lanczos = 1, Bilinear = 2, Bicubic = 3, Box = 4, Hamming = 5 };

// Throws LoadError naming `source` when `pil_id` is not 0..5.
Resample resample_from_pil(int pil_id, const std::string& source);
const char* resample_name(Resample r);

// Throws LoadError when width or height is not positive.
Image resize(const Image& src, int width, int height, Resample filter);

}  // namespace smolvk
