#include "model/ops/pixel_unshuffle.h"

#include <cmath>
#include <stdexcept>

#include "model/ops/norm_common.h"

namespace smolvk::ops {

struct UnshufflePush {
  uint32_t total, seq, dim, side, scale;
};

void pixel_unshuffle(Graph& g, const Tensor& x, const Tensor& y, int scale, const std::string& name) {
  expect_dtype(x, DType::F32, "pixel_unshuffle", "x");
  expect_dtype(y, DType::F32, "pixel_unshuffle", "y");
  if (x.shape.size() != 3 || scale < 1)
    throw std::invalid_argument("pixel_unshuffle: x " + shape_str(x) + " must be [N, S, D] and scale " +
                                std::to_string(scale) + " >= 1");
  const int64_t n = x.dim(0), seq = x.dim(1), dim = x.dim(2);
  const auto side = int64_t(std::llround(std::sqrt(double(seq))));
  if (side * side != seq || side % scale != 0)
    throw std::invalid_argument("pixel_unshuffle: sequence length " + std::to_string(seq) +
                                " must be a square whose side is a multiple of scale " + std::to_string(scale));
  const std::vector<int64_t> want{n, seq / (scale * scale), dim * scale * scale};
  if (y.shape != want)
    throw std::invalid_argument("pixel_unshuffle: y " + shape_str(y) + " must be [" + std::to_string(want[0]) + ", " +
                                std::to_string(want[1]) + ", " + std::to_string(want[2]) + "] for x " + shape_str(x));
  expect_u32(x.numel(), "pixel_unshuffle", "x elements");
  const uint64_t total = uint64_t(x.numel());
  const uint32_t wg = elementwise_workgroup(g.context().caps());
  Dispatch d{.name = name, .op = "pixel_unshuffle", .shader = "unshuffle", .spec = {wg}};
  d.bindings = {{x.ref, Access::Read}, {y.ref, Access::Write}};
  d.set_push(UnshufflePush{uint32_t(total), uint32_t(seq), uint32_t(dim), uint32_t(side), uint32_t(scale)});
  d.groups = grid_1d(ceil_div(total, wg));
  d.bytes = 8.0 * double(total);
  g.add(std::move(d));
}

}  // namespace smolvk::ops
