#pragma once
// Merging image features into the text embeddings at the `<image>` placeholder rows.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/ops/common.h"

namespace smolvk::ops {

// text f32 [rows, H] (any rank, flattened to rows): row targets[r] = image_rows[r, :] for
// every r of image_rows f32 [R, H]; targets I32 [R]. Targets outside text are skipped on the
// device: build them with image_token_targets.
void splice(Graph& g, const Tensor& text, const Tensor& image_rows, const Tensor& targets,
            const std::string& name = "splice");

// The rows of ids [B·T] equal to image_token_id, in order (batch row after batch row, which
// is the order the connector emits rows in). Throws std::invalid_argument saying both counts
// when there are not exactly image_rows of them.
std::vector<int32_t> image_token_targets(std::span<const int32_t> ids, int32_t image_token_id, int64_t image_rows);

}  // namespace smolvk::ops
