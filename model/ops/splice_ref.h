#pragma once
// CPU reference of ops::splice.
#include <cstdint>
#include <span>
#include <vector>

namespace smolvk::ops::ref {

// text [rows, H] with row targets[r] replaced by image[r, :] (targets outside are skipped).
std::vector<float> splice(std::span<const float> text, std::span<const float> image, std::span<const int32_t> targets,
                          int64_t hidden);

}  // namespace smolvk::ops::ref
