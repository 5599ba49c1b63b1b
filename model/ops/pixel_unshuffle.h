#pragma once
// The connector's space-to-depth, exactly transformers' Idefics3Connector.pixel_shuffle.
#include <string>

#include "model/ops/common.h"

namespace smolvk::ops {

// x f32 [N, S, D] (S = side², side % s == 0) → y f32 [N, S/s², D·s²] with
// y[n, R·(side/s) + C, dy·s·D + dx·D + d] = x[n, (R·s + dy)·side + C·s + dx, d].
void pixel_unshuffle(Graph& g, const Tensor& x, const Tensor& y, int scale,
                     const std::string& name = "pixel_unshuffle");

}  // namespace smolvk::ops
