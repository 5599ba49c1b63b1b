#include "model/ops/patch_embed.h"

#include <stdexcept>

#include "model/ops/norm_common.h"

namespace smolvk::ops {

struct Im2colPush {
  uint32_t total, channels, height, width, patch, ph, pw;
};

void im2col(Graph& g, const Tensor& pixels, const Tensor& patches, int patch, const std::string& name,
            const Tensor* lut) {
  expect_dtype(pixels, lut ? DType::U8 : DType::F32, "im2col", "pixels");
  expect_dtype(patches, DType::F32, "im2col", "patches");
  if (pixels.shape.size() != 4 || patch < 1 || pixels.dim(2) < patch || pixels.dim(3) < patch)
    throw std::invalid_argument("im2col: pixels " + shape_str(pixels) + " must be [N, C, H, W] with H, W >= patch " +
                                std::to_string(patch));
  const int64_t n = pixels.dim(0), c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3);
  const int64_t ph = h / patch, pw = w / patch;
  const std::vector<int64_t> want{n, ph * pw, c * patch * patch};
  if (patches.shape != want)
    throw std::invalid_argument("im2col: patches " + shape_str(patches) + " must be [" + std::to_string(n) + ", " +
                                std::to_string(ph * pw) + ", " + std::to_string(c * patch * patch) + "] for pixels " +
                                shape_str(pixels) + " and patch " + std::to_string(patch));
  expect_u32(pixels.numel(), "im2col", "pixel count");
  if (lut) {
    expect_dtype(*lut, DType::F32, "im2col", "lut");
    if (lut->shape != std::vector<int64_t>{c, 256})
      throw std::invalid_argument("im2col: lut " + shape_str(*lut) + " must be [" + std::to_string(c) +
                                  ", 256] for pixels " + shape_str(pixels));
    if (pixels.numel() % 4 != 0)  // the shader reads the bytes as whole 32-bit words
      throw std::invalid_argument("im2col: byte pixels " + shape_str(pixels) + " must hold a multiple of 4 values");
  }
  const uint64_t total = uint64_t(patches.numel());
  expect_u32(int64_t(total), "im2col", "patch elements");
  const uint32_t wg = elementwise_workgroup(g.context().caps());
  Dispatch d{.name = name, .op = "im2col", .shader = lut ? "patch_im2col_u8" : "patch_im2col", .spec = {wg}};
  d.bindings = {{pixels.ref, Access::Read}, {patches.ref, Access::Write}};
  if (lut) d.bindings.push_back({lut->ref, Access::Read});
  d.set_push(
      Im2colPush{uint32_t(total), uint32_t(c), uint32_t(h), uint32_t(w), uint32_t(patch), uint32_t(ph), uint32_t(pw)});
  d.groups = grid_1d(ceil_div(total, wg));
  d.bytes = (lut ? 5.0 : 8.0) * double(total);
  g.add(std::move(d));
}

struct PosPush {
  uint32_t total, hidden, table_rows, t_off;
};

void add_position_embedding(Graph& g, const Tensor& x, const Tensor& table, const Tensor& ids,
                            const std::string& name) {
  const char* op = "add_position_embedding";
  expect_dtype(x, DType::F32, op, "x");
  expect_dtype(ids, DType::I32, op, "ids");
  const std::string_view suffix = weight_dtype_suffix(table.dtype, op);
  if (x.shape.size() != 3 || ids.shape != std::vector<int64_t>{x.dim(0), x.dim(1)} || table.shape.size() != 2 ||
      table.dim(1) != x.dim(2) || table.dim(0) < 1)
    throw std::invalid_argument(std::string(op) + ": x " + shape_str(x) + " must be [N, S, H], ids " + shape_str(ids) +
                                " [N, S] and table " + shape_str(table) + " [P², H]");
  expect_u32(x.numel(), op, "x elements");
  expect_u32(table.numel(), op, "table elements");
  const Capabilities& caps = g.context().caps();
  const WordView tv = word_view(table, caps);
  const uint32_t wg = elementwise_workgroup(caps);
  const uint64_t total = uint64_t(x.numel());
  Dispatch d{.name = name, .op = op, .shader = "posembed_" + std::string(suffix), .spec = {wg}};
  d.bindings = {{x.ref, Access::ReadWrite}, {tv.ref, Access::Read}, {ids.ref, Access::Read}};
  d.set_push(PosPush{uint32_t(total), uint32_t(x.dim(2)), uint32_t(table.dim(0)), tv.elem_offset});
  d.groups = grid_1d(ceil_div(total, wg));
  d.flops = double(total);
  d.bytes = double(total) * (8.0 + double(dtype_size(table.dtype)));
  g.add(std::move(d));
}

}  // namespace smolvk::ops
