#pragma once
// Tensor-core attention (shaders/attention_coopmat.comp): configuration and recording.
// ops::attention_encoder and, for prefills, ops::attention_decoder select it; the portable
// flash kernel stays for everything else.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/capabilities.h"
#include "runtime/graph.h"

namespace smolvk::ops {

// A workgroup takes 16·subgroups query rows and walks the keys in blocks of `keys` (a
// multiple of 16). All zero means "the device's default".
struct AttentionCoopmatTile {
  uint32_t subgroups = 0, keys = 0;
  bool prefetch = true;    // issue the next key block's global loads before this block's math
  uint32_t row_frags = 1;  // attention_flash.comp only: 16-row query fragments per subgroup (>= 1)
};

struct AttentionCoopmatKernel {
  AttentionCoopmatTile tile;
  uint32_t head_dim = 0, subgroup_size = 0;
  uint32_t workgroup = 0;     // subgroups · subgroup_size
  uint32_t shared_bytes = 0;  // what the shader declares
  uint32_t rows() const { return 16 * tile.subgroups * tile.row_frags; }
  // io_half: the encoder's f16 q, k, v and out.
  std::vector<uint32_t> spec(bool io_half = false) const {
    return {workgroup, head_dim, tile.keys, subgroup_size, tile.subgroups, tile.prefetch ? 1u : 0u, io_half ? 1u : 0u};
  }
};

// Shared memory attention_coopmat.comp declares for head dim D and `t` (the emulated
// variant adds its own fp16 copy of Q).
uint64_t attention_coopmat_shared_bytes(uint32_t D, const AttentionCoopmatTile& t, bool emulate);

// The kernel for head dim D (all-zero request: 4 subgroups × 64 keys, else 4 × 32, 2 × 32,
// 1 × 16, the first that fits; nullopt when D is not a multiple of 16, the subgroup size is
// not a power of 2 in 4..64, or nothing fits). A non-zero request that is malformed or does
// not fit throws std::invalid_argument naming `who` and the limit.
std::optional<AttentionCoopmatKernel> attention_coopmat_kernel(const Capabilities& caps, int64_t D,
                                                               const AttentionCoopmatTile& requested, bool emulate,
                                                               const std::string& who);

// The validated operands of one encoder attention: q/k/v heads of D at element col + h·D of
// each token row (row strides in elements), key_mask [N, S], out [N, S, H, D]; f32, or f16
// with `half`.
struct EncoderAttentionArgs {
  TensorRef q, k, v, key_mask, out;
  uint32_t N = 0, S = 0, H = 0, D = 0;
  uint32_t q_col = 0, q_stride = 0, k_col = 0, v_col = 0, kv_stride = 0;
  float scale = 0.0f;  // softmax scale
  bool half = false;
};

// True when the shader's 16-byte loads can address `a`: every column offset and row stride a
// multiple of 4 elements, every binding 16-byte aligned.
bool attention_coopmat_aligned(const EncoderAttentionArgs& a);

// shaders/attention_flash.comp: the encoder attention with scores and output in tensor-core
// registers, where the device's fragments have the probed mma layout
// (Capabilities::coopmat_mma_layout) and subgroups of 32. 8 subgroups × 64 keys (then 8 × 32,
// 4 × 64, 4 × 32, 4 × 16 where shared memory is short, e.g. D = 128 in 48 KiB); nullopt where
// the device or D does not allow it (or SMOLVK_TUNE_ATTN_FLASH=0).
std::optional<AttentionCoopmatKernel> attention_flash_kernel(const Capabilities& caps, int64_t D);
uint64_t attention_flash_shared_bytes(uint32_t D, const AttentionCoopmatTile& t);
// Its extra demands on `a`: f16, every column offset and row stride a multiple of 8 elements.
bool attention_flash_fits(const EncoderAttentionArgs& a);
void record_attention_flash(Graph& g, const AttentionCoopmatKernel& kernel, const EncoderAttentionArgs& a,
                            const std::string& label);

// Records one attention_coopmat (or attention_coopmat_emu) dispatch.
void record_attention_coopmat(Graph& g, const AttentionCoopmatKernel& kernel, const EncoderAttentionArgs& a,
                              const std::string& label, bool emulate);

// The validated operands of one causal decoder attention (ops::attention_decoder's contract):
// q heads of D at element q_col + h·D of each of the B·T token rows (row stride q_stride),
// caches [B, Hkv, C, D], kv_start i32 [B], out [B, T, Hq, D]. pos0 is `pos0`, or
// params[pos0_param] (`params` bound) unless pos0_param is ~0.
struct DecoderAttentionArgs {
  TensorRef q, k_cache, v_cache, kv_start, out, params;
  uint32_t B = 0, T = 0, Hq = 0, Hkv = 0, D = 0, C = 0;
  uint32_t q_col = 0, q_stride = 0;
  uint32_t pos0 = 0, pos0_param = 0xFFFFFFFFu;
  float scale = 0.0f;  // softmax scale
};

// Fewer new tokens than this (decode steps) keep the portable kernels.
inline constexpr uint32_t kCoopmatDecoderMinTokens = 32;

// Records one attention_coopmat_dec (or _emu) dispatch where it applies — at least
// kCoopmatDecoderMinTokens tokens, 16-byte aligned views, a kernel for D (see
// attention_coopmat_kernel; a malformed `tile` throws) — and returns whether it did.
bool record_attention_coopmat_decoder(Graph& g, const DecoderAttentionArgs& a, const AttentionCoopmatTile& tile,
                                      bool emulate, const std::string& label);

}  // namespace smolvk::ops
