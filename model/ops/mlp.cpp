#include "model/ops/mlp.h"

#include <cmath>

#include "model/ops/matmul_split.h"

namespace smolvk::ops {
namespace {

struct MlpPush {
  uint32_t M, H, I;
  uint32_t x_off, h_off, gu_off, down_off, nw_off;
  float eps;
  uint32_t add_x;
};

constexpr uint32_t kWorkgroup = 256;
constexpr uint32_t kUnits = 8;  // intermediate units per workgroup

}  // namespace

bool mlp_decode_available(const Capabilities& caps, int64_t rows) {
  return caps.use_float_atomics && rows >= 1 && rows <= kMlpDecodeMaxRows &&
         caps.max_workgroup_invocations >= kWorkgroup;
}

void mlp_decode(Graph& g, const Tensor& x, const Tensor& norm_w, float eps, const Tensor& gate_up_w,
                const Tensor& down_w, const Tensor& h, const std::string& name, bool add_x) {
  const std::string op = "mlp_decode '" + name + "'";
  const Capabilities& caps = g.context().caps();
  expect(x.dtype == DType::F32 && h.dtype == DType::F32 && x.shape.size() == 2 && h.shape == x.shape, op,
         "x and h must be f32 [M, H] of one shape, got " + shape_str(x) + " and " + shape_str(h));
  const int64_t M = x.shape[0], H = x.shape[1];
  expect(mlp_decode_available(caps, M), op,
         "needs f32 atomic add on the device and 1.." + std::to_string(kMlpDecodeMaxRows) + " rows, got " +
             std::to_string(M) + " rows");
  const DType wt = gate_up_w.dtype;
  expect(wt == DType::F32 || wt == DType::F16 || wt == DType::BF16, op, "weights must be f32, f16 or bf16");
  expect(gate_up_w.shape.size() == 2 && gate_up_w.shape[1] == H && gate_up_w.shape[0] % 2 == 0, op,
         "gate_up_w must be [2I, " + std::to_string(H) + "], got " + shape_str(gate_up_w));
  const int64_t I = gate_up_w.shape[0] / 2;
  expect(down_w.dtype == wt && down_w.shape == std::vector<int64_t>{H, I}, op,
         "down_w must be [" + std::to_string(H) + ", " + std::to_string(I) + "] of gate_up_w's dtype, got " +
             shape_str(down_w));
  expect(norm_w.dtype == wt && norm_w.numel() == H, op,
         "norm_w must be [" + std::to_string(H) + "] of the weights' dtype, got " + shape_str(norm_w));
  expect(std::isfinite(eps) && eps >= 0.0f, op, "eps must be finite and >= 0");
  expect(x.ref.resource != h.ref.resource || x.ref.offset + x.bytes() <= h.ref.offset ||
             h.ref.offset + h.bytes() <= x.ref.offset,
         op, "x must not overlap h");
  for (const Tensor* t : {&x, &norm_w, &gate_up_w, &down_w, &h})
    expect(t->ref.valid() && t->bytes() <= caps.max_storage_buffer_range, op,
           "every tensor must fit one binding of maxStorageBufferRange, got " + shape_str(*t));
  check_u32(gate_up_w.numel(), op, "gate_up_w");

  const uint64_t align = std::max<uint64_t>(1, caps.min_storage_buffer_offset_alignment);
  const uint64_t ws = dtype_size(wt);
  const AlignedBinding xb = bind_aligned(x.ref, 0, x.bytes(), align, 4, op);
  const AlignedBinding gb = bind_aligned(gate_up_w.ref, 0, gate_up_w.bytes(), align, ws, op);
  const AlignedBinding hb = bind_aligned(h.ref, 0, h.bytes(), align, 4, op);
  const AlignedBinding db = bind_aligned(down_w.ref, 0, down_w.bytes(), align, ws, op);
  const AlignedBinding nb = bind_aligned(norm_w.ref, 0, norm_w.bytes(), align, ws, op);

  Dispatch d{.name = name,
             .op = "mlp",
             .shader = "mlp_decode_" + std::string(dtype_name(wt)),
             .spec = {kWorkgroup, M <= 1 ? 1u : 2u, kUnits}};
  d.bindings = {{xb.ref, Access::Read},
                {gb.ref, Access::Read},
                {hb.ref, Access::ReadWrite},
                {db.ref, Access::Read},
                {nb.ref, Access::Read}};
  d.set_push(MlpPush{uint32_t(M), uint32_t(H), uint32_t(I), xb.elem_offset, hb.elem_offset, gb.elem_offset,
                     db.elem_offset, nb.elem_offset, eps, add_x ? 1u : 0u});
  d.groups = grid_1d(ceil_div(uint64_t(I), kUnits));
  d.flops = 2.0 * double(M) * 3.0 * double(I) * double(H);
  d.bytes = double(gate_up_w.bytes() + down_w.bytes()) + 3.0 * double(x.bytes());
  g.add(std::move(d));
}

}  // namespace smolvk::ops
