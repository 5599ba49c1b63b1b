#include "model/ops/splice.h"

#include <stdexcept>

#include "model/ops/norm_common.h"

namespace smolvk::ops {

struct SplicePush {
  uint32_t total, hidden, text_rows;
};

void splice(Graph& g, const Tensor& text, const Tensor& image_rows, const Tensor& targets, const std::string& name) {
  expect_dtype(text, DType::F32, "splice", "text");
  expect_dtype(image_rows, DType::F32, "splice", "image_rows");
  expect_dtype(targets, DType::I32, "splice", "targets");
  if (text.shape.empty() || image_rows.shape.size() != 2 || image_rows.dim(1) != text.dim(-1) ||
      targets.shape != std::vector<int64_t>{image_rows.dim(0)})
    throw std::invalid_argument("splice: text " + shape_str(text) + " [..., H], image_rows " + shape_str(image_rows) +
                                " [R, H] and targets " + shape_str(targets) + " [R] do not fit together");
  if (image_rows.dim(0) == 0) return;  // a text-only prompt: nothing to copy
  expect_u32(text.numel(), "splice", "text elements");
  expect_u32(image_rows.numel(), "splice", "image elements");
  const uint64_t total = uint64_t(image_rows.numel());
  const uint32_t wg = elementwise_workgroup(g.context().caps());
  Dispatch d{.name = name, .op = "splice", .shader = "splice", .spec = {wg}};
  d.bindings = {{text.ref, Access::ReadWrite}, {image_rows.ref, Access::Read}, {targets.ref, Access::Read}};
  d.set_push(SplicePush{uint32_t(total), uint32_t(text.dim(-1)), uint32_t(text.rows())});
  d.groups = grid_1d(ceil_div(total, wg));
  d.bytes = 8.0 * double(total);
  g.add(std::move(d));
}

std::vector<int32_t> image_token_targets(std::span<const int32_t> ids, int32_t image_token_id, int64_t image_rows) {
  std::vector<int32_t> rows;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == image_token_id) rows.push_back(int32_t(i));
  if (int64_t(rows.size()) != image_rows)
    throw std::invalid_argument("image tokens and image features do not match: the prompt has " +
                                std::to_string(rows.size()) + " <image> tokens (id " + std::to_string(image_token_id) +
                                ") but the vision encoder produced " + std::to_string(image_rows) + " image rows");
  return rows;
}

}  // namespace smolvk::ops
