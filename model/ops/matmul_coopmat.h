#pragma once
// Tile configuration of the tensor-core GEMM (shaders/matmul_coopmat.comp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/capabilities.h"

namespace smolvk::ops {

// A workgroup computes bm x bn of Y in bk-deep slices, each subgroup wm x wn of it as 16x16
// fragments. All multiples of 16, wm | bm, wn | bn. All zero means "the device's default".
struct CoopmatTile {
  uint32_t bm = 0, bn = 0, bk = 0, wm = 0, wn = 0;
};

struct CoopmatKernel {
  CoopmatTile tile;
  uint32_t workgroup = 0;     // (bm / wm) * (bn / wn) subgroups of caps.subgroup_size
  uint32_t shared_bytes = 0;  // what the shader declares for this tile
  std::vector<uint32_t> spec() const { return {workgroup, tile.bm, tile.bn, tile.bk, tile.wm, tile.wn}; }
};

// Shared memory matmul_coopmat.comp declares for `t`: fp16 A and B slices with 8 halves of
// row padding, plus one 16x20 fp32 epilogue scratch per subgroup.
uint64_t coopmat_shared_bytes(const CoopmatTile& t);

// The kernel for `requested` (all zero: 128x128x32 with 32x32 per subgroup, else 128x128x32
// with 64x32, else 64x64x32 with 32x32, whichever fits the device first; nullopt when none
// does). A non-zero request that is malformed or does not
// fit throws std::invalid_argument naming `who` and the limit.
std::optional<CoopmatKernel> coopmat_kernel(const Capabilities& caps, const CoopmatTile& requested,
                                            const std::string& who);

}  // namespace smolvk::ops
