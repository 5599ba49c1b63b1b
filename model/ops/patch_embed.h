#pragma once
// SigLIP patch-embedding glue: im2col so the Conv2d (kernel = stride = patch) becomes a
// matmul with its weight viewed as [hidden, C·p·p], and the learned position embedding add.
#include <string>

#include "model/ops/common.h"

namespace smolvk::ops {

// pixels f32 [N, C, H, W] → patches f32 [N, (H/p)·(W/p), C·p·p], features in the conv
// weight's flatten order (c, ky, kx), patches row-major. Pixels past (H/p)·p or (W/p)·p are
// ignored, as the conv ignores them.
// With `lut` f32 [C, 256], pixels are U8 [N, C, H, W] (the processor's tiles before rescale
// and normalize, N·C·H·W a multiple of 4) and each is replaced by lut[c, byte]: the
// processor's normalization as a table (pixel_lut in loader/preprocess.h), so the patches
// hold exactly the floats the host would have computed, from a quarter of the bytes.
void im2col(Graph& g, const Tensor& pixels, const Tensor& patches, int patch, const std::string& name = "im2col",
            const Tensor* lut = nullptr);

// x f32 [N, S, H] += table[ids[n, s], :] with table [P², H] f32/f16/bf16 and ids I32 [N, S]
// (see patch_layout). Ids outside the table are clamped on the device.
void add_position_embedding(Graph& g, const Tensor& x, const Tensor& table, const Tensor& ids,
                            const std::string& name = "position_embedding");

}  // namespace smolvk::ops
