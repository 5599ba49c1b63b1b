#include "model/ops/activation.h"

#include <stdexcept>

#include "model/ops/norm_common.h"

namespace smolvk::ops {
namespace {

struct ActPush {
  uint32_t n, cols;
};

void elementwise(Graph& g, const char* op, const char* shader, std::vector<Binding> bindings, uint64_t n, uint32_t cols,
                 double flops_per, double bytes_per, const std::string& name) {
  expect_u32(int64_t(n), op, "elements");
  if (n == 0) throw std::invalid_argument(std::string(op) + ": empty tensor");
  const uint32_t wg = elementwise_workgroup(g.context().caps());
  Dispatch d{.name = name, .op = op, .shader = shader, .spec = {wg}};
  d.bindings = std::move(bindings);
  d.set_push(ActPush{uint32_t(n), cols});
  d.groups = grid_1d(ceil_div(n, wg));
  d.flops = flops_per * double(n);
  d.bytes = bytes_per * double(n);
  g.add(std::move(d));
}

void same_shape_f32(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  const Tensor& first = *ts.begin()->second;
  for (auto [what, t] : ts) {
    expect_dtype(*t, DType::F32, op, what);
    if (t->shape != first.shape)
      throw std::invalid_argument(std::string(op) + ": " + what + " " + shape_str(*t) + " differs from " +
                                  ts.begin()->first + " " + shape_str(first));
  }
}

}  // namespace

void gelu_tanh(Graph& g, const Tensor& x, const Tensor& y, const std::string& name) {
  if (x.dtype == DType::F16) {  // two halves per invocation
    expect_dtype(y, DType::F16, "gelu_tanh", "y");
    if (x.shape != y.shape)
      throw std::invalid_argument("gelu_tanh: y " + shape_str(y) + " differs from x " + shape_str(x));
    if (x.numel() % 2 != 0 || x.ref.offset % 4 != 0 || y.ref.offset % 4 != 0)
      throw std::invalid_argument("gelu_tanh: f16 x " + shape_str(x) +
                                  " needs an even element count and 4-byte aligned views");
    elementwise(g, "gelu_tanh", "act_gelu_f16", {{x.ref, Access::Read}, {y.ref, Access::Write}},
                uint64_t(x.numel()) / 2, 0, 18, 8, name);
    return;
  }
  same_shape_f32("gelu_tanh", {{"x", &x}, {"y", &y}});
  elementwise(g, "gelu_tanh", "act_gelu", {{x.ref, Access::Read}, {y.ref, Access::Write}}, uint64_t(x.numel()), 0, 9, 8,
              name);
}

void swiglu(Graph& g, const Tensor& gate_up, const Tensor& y, const std::string& name) {
  expect_dtype(gate_up, DType::F32, "swiglu", "gate_up");
  if (y.dtype != DType::F32 && y.dtype != DType::F16)
    throw std::invalid_argument("swiglu: y has dtype " + std::string(dtype_name(y.dtype)) + ", expected f32 or f16");
  const bool ok = !gate_up.shape.empty() && gate_up.shape.size() == y.shape.size() && gate_up.dim(-1) % 2 == 0 &&
                  y.dim(-1) * 2 == gate_up.dim(-1) && gate_up.rows() == y.rows();
  if (!ok)
    throw std::invalid_argument("swiglu: gate_up " + shape_str(gate_up) + " must be [..., 2I] and y " + shape_str(y) +
                                " [..., I] with the same leading dims");
  if (y.dtype == DType::F16) {  // two adjacent columns per invocation, one 32-bit word
    if (y.dim(-1) % 2 != 0 || y.ref.offset % 4 != 0)
      throw std::invalid_argument("swiglu: f16 y " + shape_str(y) + " needs an even I and a 4-byte aligned view");
    elementwise(g, "swiglu", "act_swiglu_f16", {{gate_up.ref, Access::Read}, {y.ref, Access::Write}},
                uint64_t(y.numel()) / 2, uint32_t(y.dim(-1)), 10, 20, name);
    return;
  }
  elementwise(g, "swiglu", "act_swiglu", {{gate_up.ref, Access::Read}, {y.ref, Access::Write}}, uint64_t(y.numel()),
              uint32_t(y.dim(-1)), 5, 12, name);
}

void add(Graph& g, const Tensor& a, const Tensor& b, const Tensor& y, const std::string& name) {
  same_shape_f32("add", {{"a", &a}, {"b", &b}, {"y", &y}});
  elementwise(g, "add", "act_add", {{a.ref, Access::Read}, {b.ref, Access::Read}, {y.ref, Access::Write}},
              uint64_t(a.numel()), 0, 1, 12, name);
}

}  // namespace smolvk::ops
