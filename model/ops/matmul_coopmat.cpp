#include "model/ops/matmul_coopmat.h"

#include "model/ops/common.h"
#include "model/ops/kernel_policy.h"

#include <stdexcept>

namespace smolvk::ops {
namespace {

std::string tile_str(const CoopmatTile& t) {
  return std::to_string(t.bm) + "x" + std::to_string(t.bn) + "x" + std::to_string(t.bk) + " (subgroup " +
         std::to_string(t.wm) + "x" + std::to_string(t.wn) + ", " + std::to_string(t.stages) + " stages, " +
         std::to_string(t.scratch_slots()) + " scratch slots)";
}

// Empty when `t` runs on `caps`, else why not.
std::string misfit(const Capabilities& caps, const CoopmatTile& t, bool split_w) {
  for (uint32_t v : {t.bm, t.bn, t.bk, t.wm, t.wn})
    if (v == 0 || v % 16 != 0) return "every size must be a positive multiple of 16";
  if (t.bm % t.wm != 0 || t.bn % t.wn != 0) return "wm must divide bm and wn divide bn";
  if (t.stages != 1 && t.stages != 2) return "stages must be 1 or 2";
  if (caps.subgroup_size == 0) return "the device reports no subgroup size";
  const uint64_t wg = uint64_t(t.bm / t.wm) * (t.bn / t.wn) * caps.subgroup_size;
  if (wg > caps.max_workgroup_invocations || wg > caps.max_workgroup_size[0])
    return std::to_string(wg) + " invocations exceed the device's " + std::to_string(caps.max_workgroup_invocations) +
           " per workgroup";
  if (coopmat_shared_bytes(t, split_w) > caps.max_shared_memory)
    return std::to_string(coopmat_shared_bytes(t, split_w)) + " bytes of shared memory exceed the device's " +
           std::to_string(caps.max_shared_memory);
  return {};
}

CoopmatKernel make(const Capabilities& caps, const CoopmatTile& t, bool split_w) {
  return {t, (t.bm / t.wm) * (t.bn / t.wn) * caps.subgroup_size, uint32_t(coopmat_shared_bytes(t, split_w))};
}

}  // namespace

Capabilities emulated_coopmat_caps(const Capabilities& caps) {
  Capabilities c = caps;
  c.subgroup_size = 32;
  return c;
}

uint64_t coopmat_shared_bytes(const CoopmatTile& t, bool split_w) {
  return uint64_t(t.stages) * (t.bm + (split_w ? 2 : 1) * t.bn) * (t.bk + 8) * 2;
}

std::optional<CoopmatKernel> coopmat_kernel(const Capabilities& caps, const CoopmatTile& requested,
                                            const std::string& who, int64_t rows, bool x_half, bool split_w) {
  if (requested.bm || requested.bn || requested.bk || requested.wm || requested.wn || requested.stages) {
    CoopmatTile t = requested;
    if (t.stages == 0) t.stages = 1;
    if (const std::string why = misfit(caps, t, split_w); !why.empty())
      throw std::invalid_argument(who + ": tensor-core tile " + tile_str(t) + ": " + why);
    return make(caps, t, split_w);
  }
  if (rows <= 64) {
    const uint32_t bm = rows <= 32 ? 32 : 64;  // 32 columns: enough workgroups on narrow layers
    for (const CoopmatTile t : {CoopmatTile{bm, 32, 32, 16, 16, 2}, CoopmatTile{bm, 32, 32, 16, 16, 1}})
      if (misfit(caps, t, split_w).empty()) return make(caps, t, split_w);
  }
  // One shared stage; on the H200 (packed layout): with f16 X (the vision encoder, 17 tiles)
  // 128×128 tiles of 8 subgroups of 64×32 beat 16 of 32×32 by 20–35% (two workgroups share an
  // SM). With f32 X (the text prefill, wider staging registers) 64×64 tiles of 8 subgroups of
  // 16×32 were best of ten shapes on all four of its GEMMs at 1,108 and 6,800 rows (17–30%
  // faster than 64×128 of 32×32; the H200, session 7). Then 64×32 subgroups (for 32 KiB
  // devices), then 64×64 tiles.
  const CoopmatTile pick = x_half ? CoopmatTile{128, 128, 32, 64, 32, 1} : CoopmatTile{64, 64, 32, 16, 32, 1};
  const KernelPolicy p = kernel_policy(caps);
  auto or_pick = [](uint32_t v, uint32_t fallback) { return v ? v : fallback; };
  const CoopmatTile best{or_pick(p.gemm_bm, pick.bm),
                         or_pick(p.gemm_bn, pick.bn),
                         or_pick(p.gemm_bk, pick.bk),
                         or_pick(p.gemm_wm, pick.wm),
                         or_pick(p.gemm_wn, pick.wn),
                         or_pick(p.gemm_stages, pick.stages),
                         p.gemm_slots};
  for (const CoopmatTile t : {best, CoopmatTile{128, 128, 32, 64, 32, 1}, CoopmatTile{64, 64, 32, 32, 32, 1}})
    if (misfit(caps, t, split_w).empty()) return make(caps, t, split_w);
  return std::nullopt;
}

}  // namespace smolvk::ops
