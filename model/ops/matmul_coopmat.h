#pragma once
// Tile configuration of the tensor-core GEMM (shaders/matmul_coopmat.comp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/capabilities.h"

namespace smolvk::ops {

// A workgroup computes bm x bn of Y in bk-deep slices, each subgroup wm x wn of it as 16x16
// fragments, with `stages` (1 or 2) shared-memory buffers of slices and `slots` 16x16 fp32
// epilogue scratch slots that the subgroups take in turns (0: one per subgroup). All
// multiples of 16, wm | bm, wn | bn. All zero means "the device's default". The slots are
// also capped by what the slices' shared memory holds (the shader's NSLOT).
struct CoopmatTile {
  uint32_t bm = 0, bn = 0, bk = 0, wm = 0, wn = 0, stages = 0, slots = 0;
  uint32_t subgroups() const { return wm && wn ? (bm / wm) * (bn / wn) : 0; }
  uint32_t scratch_slots() const { return slots && slots < subgroups() ? slots : subgroups(); }
};

struct CoopmatKernel {
  CoopmatTile tile;
  uint32_t workgroup = 0;     // (bm / wm) * (bn / wn) subgroups of caps.subgroup_size
  uint32_t shared_bytes = 0;  // what the shader declares for this tile
  // Specialization constants; x_half / y_half: X / Y hold f16 values.
  std::vector<uint32_t> spec(bool x_half = false, bool y_half = false) const {
    return {workgroup, tile.bm,     tile.bn,          tile.bk,          tile.wm,
            tile.wn,   tile.stages, x_half ? 1u : 0u, y_half ? 1u : 0u, tile.scratch_slots()};
  }
};

// Shared memory matmul_coopmat.comp declares for `t`: `stages` fp16 A and B slices with 8
// halves of row padding (the epilogue scratch reuses them); `split_w`: two B slices (W_SPLIT,
// f32 weights as f16 hi + lo).
uint64_t coopmat_shared_bytes(const CoopmatTile& t, bool split_w = false);

// The kernel for `requested` (all zero: the first of the defaults in matmul_coopmat.cpp that
// fits the device; nullopt when none does). A non-zero request that is malformed or does not
// fit throws std::invalid_argument naming `who` and the limit.
// `rows` (M) at most 64 picks a narrower default: 32 or 64 rows by 64 columns, more
// workgroups for the few-row GEMMs of batched decode.
// The emulated tensor-core kernels (matmul_coopmat_emu_*, attention_coopmat*_emu, tests only)
// run virtual subgroups of 32 invocations, as NVIDIA's tensor cores do, whatever the device's
// subgroups: fewer fragment values per invocation than at 4 or 8 lanes, which keeps lavapipe's
// compile of them (LLVM coroutines around every barrier) in seconds rather than minutes.
// These are the capabilities they are planned with.
Capabilities emulated_coopmat_caps(const Capabilities& caps);

// `x_half`: X holds f16 values (the default tile differs). `split_w`: the W_SPLIT kernel
// (matmul_coopmat_f32split), whose B slices take twice the shared memory.
std::optional<CoopmatKernel> coopmat_kernel(const Capabilities& caps, const CoopmatTile& requested,
                                            const std::string& who, int64_t rows = 1 << 30, bool x_half = false,
                                            bool split_w = false);

}  // namespace smolvk::ops
