#include "model/ops/attention_coopmat.h"

#include "model/ops/common.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/matmul_coopmat.h"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace smolvk::ops {
namespace {

struct CoopmatAttnPush {
  uint32_t S, H;
  uint32_t q_off, q_rstride;
  uint32_t k_off, v_off, kv_rstride;
  float scale;
};
struct CoopmatDecPush {
  uint32_t T, Hq, G, C;
  uint32_t q_off, q_rstride;
  uint32_t pos0, pos0_param;
  float scale;
};

constexpr double kLog2e = 1.4426950408889634;

std::string tile_str(const AttentionCoopmatTile& t) {
  return std::to_string(t.subgroups) + " subgroups x " + std::to_string(t.keys) + " keys";
}

// Empty when `t` runs on `caps` for head dim D, else why not.
std::string misfit(const Capabilities& caps, uint32_t D, const AttentionCoopmatTile& t, bool emulate) {
  if (t.subgroups == 0 || t.keys == 0 || t.keys % 16 != 0)
    return "subgroups must be positive and keys a positive multiple of 16";
  const uint64_t wg = uint64_t(t.subgroups) * caps.subgroup_size;
  if (wg > caps.max_workgroup_invocations || wg > caps.max_workgroup_size[0])
    return std::to_string(wg) + " invocations exceed the device's " + std::to_string(caps.max_workgroup_invocations) +
           " per workgroup";
  const uint64_t bytes = attention_coopmat_shared_bytes(D, t, emulate);
  if (bytes > caps.max_shared_memory)
    return std::to_string(bytes) + " bytes of shared memory exceed the device's " +
           std::to_string(caps.max_shared_memory);
  return {};
}

bool aligned(const DecoderAttentionArgs& a) {
  for (uint32_t v : {a.q_col, a.q_stride, a.D})
    if (v % 4 != 0) return false;
  for (const TensorRef* r : {&a.q, &a.k_cache, &a.v_cache, &a.out})
    if (r->offset % 16 != 0) return false;
  return true;
}

// Throws unless the grid fits the device.
void check_grid(const Capabilities& caps, uint32_t blocks, uint64_t heads, const std::string& label) {
  const auto& max_groups = caps.max_workgroup_count;
  if (heads > max_groups[1] || blocks > max_groups[0])
    throw std::invalid_argument(label + ": " + std::to_string(blocks) + " x " + std::to_string(heads) +
                                " workgroups exceed the device's grid limit");
}

AttentionCoopmatKernel make(const Capabilities& caps, uint32_t D, const AttentionCoopmatTile& t, bool emulate) {
  return {t, D, caps.subgroup_size, t.subgroups * caps.subgroup_size,
          uint32_t(attention_coopmat_shared_bytes(D, t, emulate))};
}

}  // namespace

uint64_t attention_coopmat_shared_bytes(uint32_t D, const AttentionCoopmatTile& t, bool emulate) {
  const uint64_t br = 16ull * t.subgroups, bc = t.keys, wide = std::max<uint64_t>(bc, D);
  const uint64_t kv = 2 * bc * (D + 8) * 2;      // fp16 K and V blocks
  const uint64_t hs = br * (wide + 8) * 2;       // fp16 Q staging / P
  const uint64_t scratch = br * (wide + 4) * 4;  // f32 S and P·V, 16 rows per subgroup
  const uint64_t flags = bc * 4;
  // The emulation also stages Q in f16 and exchanges lane values through one float per
  // invocation (subgroups of at most 64 lanes).
  return kv + hs + scratch + flags + (emulate ? br * (D + 8) * 2 + 64ull * 4 * t.subgroups : 0);
}

std::optional<AttentionCoopmatKernel> attention_coopmat_kernel(const Capabilities& device_caps, int64_t D,
                                                               const AttentionCoopmatTile& requested, bool emulate,
                                                               const std::string& who) {
  // The emulation (tests) runs virtual subgroups of 32 lanes, as the GEMM's does.
  const Capabilities caps = emulate ? emulated_coopmat_caps(device_caps) : device_caps;
  const uint32_t sgs = caps.subgroup_size;
  if (D <= 0 || D % 16 != 0 || D > 256 || sgs < 4 || sgs > 64 || !std::has_single_bit(sgs) || !caps.subgroup_shuffle)
    return std::nullopt;
  if (requested.subgroups || requested.keys) {
    if (const std::string why = misfit(caps, uint32_t(D), requested, emulate); !why.empty())
      throw std::invalid_argument(who + ": tensor-core attention tile " + tile_str(requested) + ": " + why);
    return make(caps, uint32_t(D), requested, emulate);
  }
  // 4 subgroups × 64 keys: 64 query rows share each staged K/V block, 44 KiB of shared
  // memory at D = 64 (the H100 allows 48), and P·V is 64 keys deep per rescale.
  for (const AttentionCoopmatTile t : {AttentionCoopmatTile{4, 64}, AttentionCoopmatTile{4, 32},
                                       AttentionCoopmatTile{2, 32}, AttentionCoopmatTile{1, 16}})
    if (misfit(caps, uint32_t(D), t, emulate).empty()) return make(caps, uint32_t(D), t, emulate);
  return std::nullopt;
}

// Every column offset and row stride of `a` a multiple of `elements`, every binding 16-byte aligned.
static bool encoder_views_aligned(const EncoderAttentionArgs& a, uint32_t elements) {
  for (uint32_t v : {a.q_col, a.q_stride, a.k_col, a.v_col, a.kv_stride, a.D})
    if (v % elements != 0) return false;
  for (const TensorRef* r : {&a.q, &a.k, &a.v, &a.out})
    if (r->offset % 16 != 0) return false;
  return true;
}

bool attention_coopmat_aligned(const EncoderAttentionArgs& a) { return encoder_views_aligned(a, 4); }

// One encoder attention dispatch: a grid of query blocks × (tile, head), push offsets and strides
// in units of `unit` elements.
static void record_encoder_dispatch(Graph& g, const AttentionCoopmatKernel& kernel, const EncoderAttentionArgs& a,
                                    const std::string& label, const std::string& shader, std::vector<uint32_t> spec,
                                    uint32_t unit) {
  const uint32_t blocks = (a.S + kernel.rows() - 1) / kernel.rows();
  const uint64_t tile_heads = uint64_t(a.N) * a.H;
  check_grid(g.context().caps(), blocks, tile_heads, label);
  Dispatch d{.name = label, .op = "attention", .shader = shader, .spec = std::move(spec)};
  d.groups = {blocks, uint32_t(tile_heads), 1};
  d.flops = 4.0 * double(tile_heads) * double(a.D) * double(a.S) * double(a.S);
  const double out_bytes = (a.half ? 2.0 : 4.0) * double(tile_heads) * double(a.S) * double(a.D);
  d.bytes = 4.0 * out_bytes + 4.0 * double(a.N) * double(a.S);
  d.bindings = {{a.q, Access::Read},
                {a.k, Access::Read},
                {a.v, Access::Read},
                {a.key_mask, Access::Read},
                {a.out, Access::Write}};
  d.set_push(CoopmatAttnPush{a.S, a.H, a.q_col / unit, a.q_stride / unit, a.k_col / unit, a.v_col / unit,
                             a.kv_stride / unit, float(double(a.scale) * kLog2e)});
  g.add(std::move(d));
}

void record_attention_coopmat(Graph& g, const AttentionCoopmatKernel& kernel, const EncoderAttentionArgs& a,
                              const std::string& label, bool emulate) {
  record_encoder_dispatch(g, kernel, a, label, emulate ? "attention_coopmat_emu" : "attention_coopmat",
                          kernel.spec(a.half), 4);
}

std::optional<AttentionCoopmatKernel> attention_flash_kernel(const Capabilities& caps, int64_t D) {
  if (!caps.use_coopmat || !caps.coopmat_mma_layout || caps.subgroup_size != 32 || D <= 0 || D % 16 != 0 || D > 256)
    return std::nullopt;
  const KernelPolicy policy = kernel_policy(caps);
  if (policy.attention_flash == 0) return std::nullopt;
  // 8 subgroups × 64 keys: on the H200 (vision encoder, 17 tiles) 5.4 ms against 6.7 for 4 × 64
  // and 6.2 for 4 × 32; with 2 row fragments per subgroup (the policy's default) 8 × 32 keys
  // (64 do not fit 48 KiB) 4.7 ms, and 4 × 32 5.8. Fewer keys, subgroups or row fragments where
  // shared memory is short (D = 80: 4 subgroups × 64 keys keep both row fragments; D = 128).
  const uint32_t sg = policy.flash_subgroups, keys = policy.flash_keys, rf = policy.flash_row_frags;
  if (sg == 0 || keys == 0 || keys % 16 != 0 || rf == 0 || rf > 4) return std::nullopt;
  for (const AttentionCoopmatTile t : {AttentionCoopmatTile{sg, keys, true, rf}, AttentionCoopmatTile{sg, 32, true, rf},
                                       AttentionCoopmatTile{4, keys, true, rf}, AttentionCoopmatTile{4, 64, true, 1},
                                       AttentionCoopmatTile{4, 32, true, 1},
                                       AttentionCoopmatTile{4, 16, true, 1}}) {
    const uint64_t bytes = attention_flash_shared_bytes(uint32_t(D), t);
    if (t.keys <= keys && t.subgroups <= sg && bytes <= caps.max_shared_memory &&
        uint64_t(t.subgroups) * 32 <= caps.max_workgroup_invocations)
      return AttentionCoopmatKernel{t, uint32_t(D), 32, t.subgroups * 32, uint32_t(bytes)};
  }
  return std::nullopt;
}

uint64_t attention_flash_shared_bytes(uint32_t D, const AttentionCoopmatTile& t) {
  // fp16 K and V blocks and the Q rows (pitch D + 8), one flag per key.
  return (2ull * t.keys + 16ull * t.subgroups * t.row_frags) * (D + 8) * 2 + 4ull * t.keys;
}

bool attention_flash_fits(const EncoderAttentionArgs& a) { return a.half && encoder_views_aligned(a, 8); }

void record_attention_flash(Graph& g, const AttentionCoopmatKernel& kernel, const EncoderAttentionArgs& a,
                            const std::string& label) {
  record_encoder_dispatch(
      g, kernel, a, label, "attention_flash",
      {kernel.workgroup, kernel.head_dim, kernel.tile.keys, kernel.tile.subgroups, kernel.tile.row_frags}, 8);
}

bool record_attention_coopmat_decoder(Graph& g, const DecoderAttentionArgs& a, const AttentionCoopmatTile& tile,
                                      bool emulate, const std::string& label) {
  if (a.T < kCoopmatDecoderMinTokens || !aligned(a)) return false;
  const auto kernel = attention_coopmat_kernel(g.context().caps(), a.D, tile, emulate, label);
  if (!kernel) return false;
  const uint32_t blocks = (a.T + kernel->rows() - 1) / kernel->rows();
  const uint64_t batch_heads = uint64_t(a.B) * a.Hq;
  check_grid(g.context().caps(), blocks, batch_heads, label);
  Dispatch d{.name = label,
             .op = "attention",
             .shader = emulate ? "attention_coopmat_dec_emu" : "attention_coopmat_dec",
             .spec = kernel->spec()};
  d.groups = {blocks, uint32_t(batch_heads), 1};
  // Keys seen with a fixed pos0 (an upper bound with a params word); left padding is not known.
  const bool fixed = a.pos0_param == 0xFFFFFFFFu;
  const double T = a.T, p0 = fixed ? double(a.pos0) : double(a.C) - T;
  d.flops = 4.0 * double(batch_heads) * double(a.D) * (T * p0 + T * (T + 1) / 2);
  d.bytes = 8.0 * double(batch_heads) * T * a.D + 8.0 * double(a.B) * a.Hkv * a.D * (p0 + T);
  d.bindings = {{a.q, Access::Read},
                {a.k_cache, Access::Read},
                {a.v_cache, Access::Read},
                {a.kv_start, Access::Read},
                {a.out, Access::Write}};
  if (!fixed) d.bindings.push_back({a.params, Access::Read});
  d.set_push(CoopmatDecPush{a.T, a.Hq, a.Hq / a.Hkv, a.C, a.q_col / 4, a.q_stride / 4, a.pos0, a.pos0_param,
                            float(double(a.scale) * kLog2e)});
  g.add(std::move(d));
  return true;
}

}  // namespace smolvk::ops
