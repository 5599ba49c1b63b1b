#include "model/ops/norm.h"

#include <stdexcept>

#include "model/ops/norm_common.h"

namespace smolvk::ops {
namespace {

struct NormPush {
  uint32_t rows, cols;
  float eps;
  uint32_t w_off, b_off;
};

void norm(Graph& g, const char* op, const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y, float eps,
          const std::string& name) {
  expect_dtype(x, DType::F32, op, "x");
  if (y.dtype != DType::F32 && y.dtype != DType::F16)
    throw std::invalid_argument(std::string(op) + ": y has dtype " + std::string(dtype_name(y.dtype)) +
                                ", expected f32 or f16");
  const bool y_half = y.dtype == DType::F16;
  if (y_half && x.dim(-1) % 2 != 0)
    throw std::invalid_argument(std::string(op) + ": f16 y needs an even last dim, got x " + shape_str(x));
  if (x.shape.empty() || x.dim(-1) < 1 || x.shape != y.shape)
    throw std::invalid_argument(std::string(op) + ": x " + shape_str(x) + " and y " + shape_str(y) +
                                " must have the same non-empty shape");
  const int64_t cols = x.dim(-1);
  if (w.shape != std::vector<int64_t>{cols})
    throw std::invalid_argument(std::string(op) + ": weight " + shape_str(w) + " must be [" + std::to_string(cols) +
                                "] for x " + shape_str(x));
  if (b && (b->shape != w.shape || b->dtype != w.dtype))
    throw std::invalid_argument(std::string(op) + ": bias " + shape_str(*b) + " " + std::string(dtype_name(b->dtype)) +
                                " must match weight " + shape_str(w) + " " + std::string(dtype_name(w.dtype)));
  if (!(eps >= 0)) throw std::invalid_argument(std::string(op) + ": eps must be >= 0");
  expect_u32(x.numel(), op, "x elements");
  const Capabilities& caps = g.context().caps();
  std::string shader = std::string("norm_") + (b ? "ln_" : "rms_") + std::string(weight_dtype_suffix(w.dtype, op));
  if (caps.use_subgroup) shader += "_sg";
  const uint32_t wg = row_workgroup(caps, cols);
  const WordView wv = word_view(w, caps);
  const WordView bv = b ? word_view(*b, caps) : wv;
  const uint64_t rows = uint64_t(x.rows());

  Dispatch d{.name = name, .op = op, .shader = shader, .spec = {wg, y_half ? 1u : 0u}};
  d.bindings = {{x.ref, Access::Read}, {wv.ref, Access::Read}, {bv.ref, Access::Read}, {y.ref, Access::Write}};
  d.set_push(NormPush{uint32_t(rows), uint32_t(cols), eps, wv.elem_offset, bv.elem_offset});
  d.groups = grid_1d(rows);
  const double n = double(x.numel());
  d.flops = (b ? 8.0 : 4.0) * n;
  d.bytes = (b ? 2.0 : 1.0) * n * 4 + double(y.bytes()) + double(w.bytes()) * (b ? 2 : 1);
  g.add(std::move(d));
}

}  // namespace

void rms_norm(Graph& g, const Tensor& x, const Tensor& weight, const Tensor& y, float eps, const std::string& name) {
  norm(g, "rms_norm", x, weight, nullptr, y, eps, name);
}

void layer_norm(Graph& g, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, float eps,
                const std::string& name) {
  norm(g, "layer_norm", x, weight, &bias, y, eps, name);
}

}  // namespace smolvk::ops
