#include "model/ops/attention.h"

#include "model/ops/kernel_policy.h"
#include "model/ops/matmul_split.h"

#include <algorithm>
#include <bit>
#include <optional>
#include <cmath>
#include <stdexcept>

namespace smolvk::ops {
namespace {

struct AttnPush {
  uint32_t T, G, Hq, Hkv;
  uint32_t q_off, q_bstride, q_rstride;
  uint32_t k_off, v_off, kv_bstride, kv_hstride, kv_rstride;
  uint32_t nkeys;
  uint32_t pos0, pos0_param;
  uint32_t split_keys;
  float scale;
};
struct CombinePush {
  uint32_t rows, D, splits;
};

constexpr uint32_t kStaticParam = 0xFFFFFFFFu;
constexpr uint32_t kCombineWorkgroup = 64;
// Flash-decoding: split the keys while fewer workgroups than this would run, but never
// below kMinSplitKeys keys per split.
constexpr uint64_t kTargetWorkgroups = 128;
constexpr uint64_t kMinSplitKeys = 128;
constexpr double kLog2e = 1.4426950408889634;
// Decode steps (few query rows per kv head) take attention_decode.comp.
constexpr int64_t kDecodeMaxRows = 8;

uint32_t next_pow2(uint64_t v) {
  uint32_t p = 1;
  while (p < v && p < (1u << 30)) p <<= 1;
  return p;
}

// Workgroup size, tile sizes and per-invocation register tiles for head dim D with `rows`
// query rows per (batch, kv head), fitting the shared-memory limit.
struct Tiles {
  uint32_t wg, br, bc, trs, tro;
};
uint64_t shared_bytes(uint64_t D, uint64_t br, uint64_t bc) {
  return 4 * (br * D + bc * (D + 4) + bc * D + br * bc + 3 * br + bc);
}
// Rows per invocation (a power of 2 ≤ 4 dividing br) when `work` items are shared by wg.
uint32_t rows_per_invocation(uint64_t work, uint32_t wg, uint32_t br) {
  const uint64_t per = std::min<uint64_t>({std::max<uint64_t>(1, work / wg), 4, br});
  uint32_t tr = 1;
  while (tr * 2 <= per) tr *= 2;
  return tr;
}
Tiles pick_tiles(const Capabilities& caps, int64_t D, int64_t rows, const std::string& op) {
  expect(D % 4 == 0 && D <= 256, op, "head_dim must be a multiple of 4 and at most 256, got " + std::to_string(D));
  uint32_t wg = std::clamp<uint32_t>(4 * std::max<uint32_t>(caps.subgroup_size, 1), 64, 256);
  wg = std::min<uint32_t>(wg, std::max<uint32_t>(caps.max_workgroup_invocations, 64));
  uint32_t br = std::min<uint32_t>(32, next_pow2(uint64_t(rows)));
  uint32_t bc = br <= 8 ? 64 : 32;  // few query rows (decode): longer key tiles
  while (shared_bytes(D, br, bc) > caps.max_shared_memory) {
    if (bc > 16 && bc >= br)
      bc /= 2;
    else if (br > 1)
      br /= 2;
    else if (bc > 1)
      bc /= 2;
    else
      break;
  }
  expect(shared_bytes(D, br, bc) <= caps.max_shared_memory, op,
         "head_dim " + std::to_string(D) + " does not fit this device's " + std::to_string(caps.max_shared_memory) +
             " bytes of shared memory");
  return {wg, br, bc, rows_per_invocation(uint64_t(br) * bc, wg, br),
          rows_per_invocation(uint64_t(br) * uint64_t(D / 4), wg, br)};
}

// Row stride of a TokenHeads view over `tokens` tokens of `heads` heads of D.
uint32_t row_stride(const TokenHeads& x, int64_t tokens, int64_t heads, int64_t D, const std::string& op,
                    const std::string& what, DType dtype = DType::F32) {
  const Tensor& t = x.tensor;
  expect(t.dtype == dtype, op,
         what + " must be " + std::string(dtype_name(dtype)) + ", got " + std::string(dtype_name(t.dtype)) + " " +
             shape_str(t));
  expect(tokens > 0 && t.numel() % tokens == 0, op,
         what + " " + shape_str(t) + " does not hold " + std::to_string(tokens) + " token rows");
  const int64_t stride = t.numel() / tokens;
  expect(x.col >= 0 && x.col + heads * D <= stride, op,
         what + ": columns " + std::to_string(x.col) + ".." + std::to_string(x.col + heads * D) +
             " do not fit its row of " + std::to_string(stride) + " elements");
  check_u32(t.numel(), op, what);
  return uint32_t(stride);
}

// Records the attention dispatch (and the combine when split), given the filled push.
void record(Graph& g, const std::string& shader, const std::string& label, std::vector<uint32_t> spec, uint32_t D,
            AttnPush push, uint32_t q_blocks, uint32_t batch_heads, uint32_t splits, const TensorRef& q,
            const TensorRef& k, const TensorRef& v, const TensorRef& mask, const Tensor& out, const TensorRef* params,
            double flops, double bytes) {
  const uint64_t out_rows = uint64_t(out.rows());
  Dispatch d{.name = label, .op = "attention", .shader = shader, .spec = std::move(spec)};
  d.groups = {q_blocks, batch_heads, splits};
  d.flops = flops;
  d.bytes = bytes;
  d.bindings = {{q, Access::Read}, {k, Access::Read}, {v, Access::Read}, {mask, Access::Read}};
  if (splits == 1) {
    d.bindings.push_back({out.ref, Access::Write});
    if (params) d.bindings.push_back({*params, Access::Read});
    d.set_push(push);
    g.add(std::move(d));
    return;
  }
  const TensorRef part = g.transient(uint64_t(splits) * out_rows * D * 4, label + ".partial");
  const TensorRef ml = g.transient(uint64_t(splits) * out_rows * 8, label + ".max_sum");
  d.bindings.push_back({part, Access::Write});
  d.bindings.push_back({params ? *params : g.params(), Access::Read});
  d.bindings.push_back({ml, Access::Write});
  d.set_push(push);
  g.add(std::move(d));

  Dispatch c{.name = label + ".combine", .op = "attention", .shader = "attention_combine", .spec = {kCombineWorkgroup}};
  c.bindings = {{part, Access::Read}, {ml, Access::Read}, {out.ref, Access::Write}};
  c.set_push(CombinePush{uint32_t(out_rows), D, splits});
  c.groups = grid_1d(ceil_div(out_rows * D, kCombineWorkgroup));
  c.flops = 4.0 * double(splits) * double(out_rows * D);
  c.bytes = double(splits) * double(out_rows) * (4.0 * D + 8.0) + 4.0 * double(out_rows * D);
  g.add(std::move(c));
}

// Number of key splits and keys per split (a multiple of the key tile).
std::pair<uint32_t, uint32_t> pick_splits(const Capabilities& caps, int requested, uint64_t keys, uint64_t workgroups,
                                          uint32_t bc, uint64_t out_rows, uint32_t D) {
  uint64_t splits = 1;
  if (requested > 0) {
    splits = uint64_t(requested);
  } else if (workgroups < kTargetWorkgroups && keys >= 2 * kMinSplitKeys) {
    splits = std::min((kTargetWorkgroups + workgroups - 1) / workgroups, keys / kMinSplitKeys);
  }
  // The partial accumulators must fit one binding.
  while (splits > 1 && splits * out_rows * D * 4 > caps.max_storage_buffer_range) --splits;
  splits = std::clamp<uint64_t>(splits, 1, std::max<uint64_t>(keys, 1));
  uint64_t per = (keys + splits - 1) / splits;
  per = std::max<uint64_t>(bc, (per + bc - 1) / bc * bc);
  splits = std::max<uint64_t>(1, (keys + per - 1) / per);
  return {uint32_t(splits), uint32_t(per)};
}

// attention_decode.comp for a decode step: R query rows per (batch row, kv head), up to SK
// keys scored at once per workgroup.
struct DecodePlan {
  uint32_t wg = 0, rows = 0, split_keys_max = 0;
  uint32_t value_prefetch = 0;  // value vectors each invocation loads before the softmax
  // The specialization constants attention_decode.comp starts with.
  std::vector<uint32_t> spec(uint32_t D) const { return {wg, D, rows, split_keys_max, value_prefetch}; }
};
std::optional<DecodePlan> decode_plan(const Capabilities& caps, int64_t rows, int64_t D) {
  if (rows > kDecodeMaxRows || D % 4 != 0 || D > 256) return std::nullopt;
  DecodePlan p;
  p.wg = 256;
  if (p.wg > caps.max_workgroup_invocations || uint64_t(D) > p.wg) return std::nullopt;
  p.rows = next_pow2(uint64_t(rows));
  const uint64_t fixed = 4ull * (p.rows * uint64_t(D) + uint64_t(p.wg) * p.rows + 2 * p.rows);
  if (fixed >= caps.max_shared_memory) return std::nullopt;
  uint64_t sk = std::min<uint64_t>(1024, (caps.max_shared_memory - fixed) / (4ull * p.rows));
  if (sk < 64) return std::nullopt;
  p.split_keys_max = uint32_t(std::bit_floor(sk));
  p.value_prefetch = D <= 64 ? 16 : 4;
  return p;
}

struct OProjPush {
  AttnPush attn;
  uint32_t H, wo_off, h_off, hz_off;
};

// Output-projection rows per workgroup of attention_decode.comp's OPROJ variant.
constexpr uint32_t kOProjRows = 32;

// attention_decode.comp's OPROJ variant (one split, T = 1); false where W_o's columns of one
// kv head's G heads are not 16-byte aligned (the caller then projects separately).
bool record_decode_oproj(Graph& g, const OutputProjection& p, const DecodePlan& plan, uint32_t D, AttnPush push,
                         uint32_t batch_heads, const TokenHeads& q, const Tensor& k_cache, const Tensor& v_cache,
                         const Tensor& kv_start, const TensorRef& params, const std::string& label, double flops,
                         double bytes) {
  const std::string op = label + " (output projection)";
  const int64_t B = k_cache.shape[0], H = p.h.dim(-1), in = int64_t(push.Hq) * D;
  expect(p.w.shape == std::vector<int64_t>{H, in} &&
             (p.w.dtype == DType::F32 || p.w.dtype == DType::F16 || p.w.dtype == DType::BF16),
         op, "W_o must be f32/f16/bf16 [" + std::to_string(H) + ", " + std::to_string(in) + "], got " + shape_str(p.w));
  expect(p.h.dtype == DType::F32 && p.h.shape == std::vector<int64_t>{B, H} && p.h_next.dtype == DType::F32 &&
             p.h_next.shape == p.h.shape && p.h.ref.resource != p.h_next.ref.resource,
         op,
         "h and h_next must be two f32 [" + std::to_string(B) + ", " + std::to_string(H) + "] tensors, got " +
             shape_str(p.h) + " and " + shape_str(p.h_next));
  const Capabilities& caps = g.context().caps();
  const uint64_t align = std::max<uint64_t>(1, caps.min_storage_buffer_offset_alignment);
  const uint64_t ws = dtype_size(p.w.dtype);
  const AlignedBinding wb = bind_aligned(p.w.ref, 0, p.w.bytes(), align, ws, op);
  const uint64_t per_vec = p.w.dtype == DType::F32 ? 4 : 8, nin = uint64_t(push.G) * D;
  if (nin % 8 != 0 || nin > 512 || in % per_vec != 0 || wb.elem_offset % per_vec != 0) return false;
  const AlignedBinding hb = bind_aligned(p.h.ref, 0, p.h.bytes(), align, 4, op);
  const AlignedBinding zb = bind_aligned(p.h_next.ref, 0, p.h_next.bytes(), align, 4, op);
  std::vector<uint32_t> spec = plan.spec(D);
  spec.insert(spec.end(), {uint32_t(nin), kOProjRows});
  Dispatch d{.name = label,
             .op = "attention",
             .shader = "attention_decode_oproj_" + std::string(dtype_name(p.w.dtype)),
             .spec = std::move(spec)};
  d.groups = {ceil_div(uint64_t(H), kOProjRows), batch_heads, 1};
  d.flops = flops + 2.0 * double(B * H * in);
  d.bytes = bytes + double(p.w.bytes()) + 3.0 * double(p.h.bytes());
  d.bindings = {{q.tensor.ref, Access::Read}, {k_cache.ref, Access::Read}, {v_cache.ref, Access::Read},
                {kv_start.ref, Access::Read}, {hb.ref, Access::ReadWrite}, {params, Access::Read},
                {zb.ref, Access::Write},      {wb.ref, Access::Read}};
  d.set_push(OProjPush{push, uint32_t(H), wb.elem_offset, hb.elem_offset, zb.elem_offset});
  g.add(std::move(d));
  return true;
}

}  // namespace

bool attention_decoder(Graph& g, const TokenHeads& q, const Tensor& k_cache, const Tensor& v_cache,
                       const Tensor& kv_start, const Tensor& out, const DeviceValue& pos0,
                       const AttentionOptions& options) {
  const std::string op = "attention_decoder";
  expect(out.dtype == DType::F32 && out.shape.size() == 4, op, "out must be f32 [B, T, Hq, D], got " + shape_str(out));
  expect_kv_cache(k_cache, v_cache, op);
  const int64_t B = out.shape[0], T = out.shape[1], Hq = out.shape[2], D = out.shape[3];
  const int64_t Hkv = k_cache.shape[1], C = k_cache.shape[2];
  expect(B > 0 && T > 0 && Hq > 0 && D > 0 && Hkv > 0 && C > 0, op,
         "empty dimension in out " + shape_str(out) + " or caches " + shape_str(k_cache));
  expect(k_cache.shape[0] == B && k_cache.shape[3] == D, op,
         "caches " + shape_str(k_cache) + " do not match out " + shape_str(out));
  expect(Hq % Hkv == 0, op,
         "q heads (" + std::to_string(Hq) + ") must be a multiple of kv heads (" + std::to_string(Hkv) + ")");
  expect(kv_start.dtype == DType::I32 && kv_start.numel() == B, op,
         "kv_start must be i32 [" + std::to_string(B) + "], got " + shape_str(kv_start));
  const uint32_t q_stride = row_stride(q, B * T, Hq, D, op, "q");
  check_u32(k_cache.numel(), op, "k_cache");
  check_u32(out.numel(), op, "out");

  uint32_t pos_static = 0, pos_param = kStaticParam;
  const TensorRef* params = nullptr;
  ParamWord pw;
  uint64_t keys_max = uint64_t(C);  // keys a split plan must cover
  if (const auto* fixed = std::get_if<uint32_t>(&pos0)) {
    expect(uint64_t(*fixed) + uint64_t(T) <= uint64_t(C), op,
           "pos0 " + std::to_string(*fixed) + " + T " + std::to_string(T) + " exceeds the cache capacity " +
               std::to_string(C));
    pos_static = *fixed;
    keys_max = uint64_t(*fixed) + uint64_t(T);
  } else {
    pw = std::get<ParamWord>(pos0);
    const uint64_t words = pw.per_row ? uint64_t(B) : 1;
    expect(pw.params.valid() && pw.index + words <= Graph::kParamWords, op,
           "pos0 params words " + std::to_string(pw.index) + " + " + std::to_string(words) +
               " are not words of Graph::params()");
    expect(!pw.per_row || T == 1, op,
           "per-row positions take one new token per row (a decode step), got T = " + std::to_string(T));
    pos_param = pw.index | (pw.per_row ? 0x80000000u : 0u);
    params = &pw.params;
    if (pw.bound) keys_max = std::min<uint64_t>(uint64_t(C), uint64_t(pw.bound) + uint64_t(T));
  }

  const Capabilities& caps = g.context().caps();
  const int64_t G = Hq / Hkv;
  const float scale = options.scale != 0.0f ? options.scale : float(1.0 / std::sqrt(double(D)));
  // Work for the key count the plan covers (exact with a fixed pos0, an upper bound with a
  // params word); left padding is not known here.
  const double p0 = double(keys_max) - double(T);
  const double key_pairs = double(T) * p0 + double(T) * double(T + 1) / 2.0;
  const double flops = 4.0 * double(B * Hq * D) * key_pairs;
  const double bytes = 2.0 * double(out.bytes()) + 8.0 * double(B * Hkv * D) * double(keys_max);
  const std::string label = options.name.empty() ? op : options.name;
  if (((caps.use_coopmat && !options.exact) || options.emulate_coopmat) && options.splits <= 1 && !pw.per_row &&
      record_attention_coopmat_decoder(
          g,
          {q.tensor.ref, k_cache.ref, v_cache.ref, kv_start.ref, out.ref, params ? *params : TensorRef{}, uint32_t(B),
           uint32_t(T), uint32_t(Hq), uint32_t(Hkv), uint32_t(D), uint32_t(C), uint32_t(q.col), q_stride, pos_static,
           pos_param, scale},
          options.coopmat_tile, options.emulate_coopmat, label))
    return false;
  auto make_push = [&](uint32_t split_keys) {
    return AttnPush{uint32_t(T),
                    uint32_t(G),
                    uint32_t(Hq),
                    uint32_t(Hkv),
                    uint32_t(q.col),
                    uint32_t(T) * q_stride,
                    q_stride,
                    0,
                    0,
                    uint32_t(Hkv * C * D),
                    uint32_t(C * D),
                    uint32_t(D),
                    uint32_t(C),
                    pos_static,
                    pos_param,
                    split_keys,
                    float(double(scale) * kLog2e)};
  };

  if (const auto plan = decode_plan(caps, T * G, D)) {
    // Unless asked for a count, split the keys only where a long context would leave few
    // workgroups each walking many keys (min keys per split: tunable).
    const uint64_t groups = uint64_t(ceil_div(uint64_t(T * G), plan->rows)) * B * Hkv;
    const uint64_t min_keys = std::max<uint32_t>(64, kernel_policy(caps).decode_split_min_keys);
    uint64_t splits = uint64_t(options.splits);
    if (splits == 0) {
      splits = ceil_div(keys_max, plan->split_keys_max);
      if (groups < kTargetWorkgroups)
        splits =
            std::max<uint64_t>(splits, std::min<uint64_t>(ceil_div(kTargetWorkgroups, groups), keys_max / min_keys));
    }
    const auto [n, per] =
        pick_splits(caps, int(std::max<uint64_t>(splits, 1)), keys_max, groups, 1, uint64_t(out.rows()), uint32_t(D));
    if (options.o_proj && n == 1 && per <= plan->split_keys_max && T == 1 && caps.use_float_atomics) {
      if (record_decode_oproj(g, *options.o_proj, *plan, uint32_t(D), make_push(per), uint32_t(B * Hkv), q, k_cache,
                              v_cache, kv_start, params ? *params : g.params(), label, flops, bytes))
        return true;
    }
    if (per <= plan->split_keys_max) {
      record(g, "attention_decode", label, plan->spec(uint32_t(D)), uint32_t(D), make_push(per),
             ceil_div(uint64_t(T * G), plan->rows), uint32_t(B * Hkv), n, q.tensor.ref, k_cache.ref, v_cache.ref,
             kv_start.ref, out, params, flops, bytes);
      return false;
    }
  }

  const Tiles tl = pick_tiles(caps, D, T * G, op);
  const uint32_t q_blocks = ceil_div(uint64_t(T * G), tl.br);
  const auto [splits, split_keys] = pick_splits(caps, options.splits, keys_max, uint64_t(q_blocks) * B * Hkv, tl.bc,
                                                uint64_t(out.rows()), uint32_t(D));

  record(g, "attention_decoder", label, {tl.wg, uint32_t(D), tl.br, tl.bc, tl.trs, tl.tro}, uint32_t(D),
         make_push(split_keys), q_blocks, uint32_t(B * Hkv), splits, q.tensor.ref, k_cache.ref, v_cache.ref,
         kv_start.ref, out, params, flops, bytes);
  return false;
}

std::string encoder_attention_kernel_choice(const Capabilities& caps, int64_t D, int64_t rows) {
  if (const auto kernel = attention_flash_kernel(caps, D))  // for f16 q, k, v and out
    return kernel_str("attention_flash",
                      {kernel->workgroup, kernel->head_dim, kernel->tile.keys, kernel->tile.subgroups});
  if (caps.use_coopmat)
    if (const auto kernel = attention_coopmat_kernel(caps, D, {}, false, "attention"))
      return kernel_str("attention_coopmat", kernel->spec(false));
  const Tiles tl = pick_tiles(caps, D, rows, "attention");
  return kernel_str("attention_encoder", {tl.wg, uint32_t(D), tl.br, tl.bc, tl.trs, tl.tro});
}

void attention_encoder(Graph& g, const TokenHeads& q, const TokenHeads& k, const TokenHeads& v, const Tensor& key_mask,
                       const Tensor& out, const AttentionOptions& options) {
  const std::string op = "attention_encoder";
  expect((out.dtype == DType::F32 || out.dtype == DType::F16) && out.shape.size() == 4, op,
         "out must be f32 or f16 [N, S, H, D], got " + shape_str(out));
  const int64_t N = out.shape[0], S = out.shape[1], H = out.shape[2], D = out.shape[3];
  const bool half = out.dtype == DType::F16;
  expect(N > 0 && S > 0 && H > 0 && D > 0, op, "empty dimension in out " + shape_str(out));
  expect(
      (key_mask.dtype == DType::U32 || key_mask.dtype == DType::I32) && key_mask.numel() == N * S, op,
      "key_mask must be u32 or i32 [" + std::to_string(N) + ", " + std::to_string(S) + "], got " + shape_str(key_mask));
  const uint32_t qs = row_stride(q, N * S, H, D, op, "q", out.dtype);
  const uint32_t ks = row_stride(k, N * S, H, D, op, "k", out.dtype);
  const uint32_t vs = row_stride(v, N * S, H, D, op, "v", out.dtype);
  expect(ks == vs, op,
         "k and v must have the same row stride, got " + std::to_string(ks) + " and " + std::to_string(vs));
  check_u32(out.numel(), op, "out");

  const Capabilities& caps = g.context().caps();
  const float scale = options.scale != 0.0f ? options.scale : float(1.0 / std::sqrt(double(D)));
  const std::string label = options.name.empty() ? op : options.name;
  if (((caps.use_coopmat && !options.exact) || options.emulate_coopmat) && options.splits <= 1) {
    check_u32(N * H, op, "tiles x heads");
    const EncoderAttentionArgs a{q.tensor.ref, k.tensor.ref,    v.tensor.ref,    key_mask.ref, out.ref,
                                 uint32_t(N),  uint32_t(S),     uint32_t(H),     uint32_t(D),  uint32_t(q.col),
                                 qs,           uint32_t(k.col), uint32_t(v.col), ks,           scale,
                                 half};
    // The register-resident kernel unless a tile or the emulation was asked for.
    if (!options.emulate_coopmat && !options.coopmat_tile.subgroups && !options.coopmat_tile.keys &&
        attention_flash_fits(a))
      if (const auto kernel = attention_flash_kernel(caps, D)) {
        record_attention_flash(g, *kernel, a, label);
        return;
      }
    if (attention_coopmat_aligned(a))
      if (const auto kernel = attention_coopmat_kernel(caps, D, options.coopmat_tile, options.emulate_coopmat, op)) {
        record_attention_coopmat(g, *kernel, a, label, options.emulate_coopmat);
        return;
      }
  }
  expect(!half, op,
         "f16 q, k, v and out need the tensor-core kernel (a device with cooperative matrices, "
         "head dim a multiple of 16, 16-byte aligned views)");

  const Tiles tl = pick_tiles(caps, D, S, op);
  const uint32_t q_blocks = ceil_div(uint64_t(S), tl.br);
  // The vision encoder has plenty of query blocks: split only when asked.
  const auto [splits, split_keys] = pick_splits(caps, std::max(options.splits, 1), uint64_t(S),
                                                uint64_t(q_blocks) * N * H, tl.bc, uint64_t(out.rows()), uint32_t(D));
  AttnPush push{uint32_t(S),
                1,
                uint32_t(H),
                uint32_t(H),
                uint32_t(q.col),
                uint32_t(S) * qs,
                qs,
                uint32_t(k.col),
                uint32_t(v.col),
                uint32_t(S) * ks,
                uint32_t(D),
                ks,
                uint32_t(S),
                0,
                kStaticParam,
                split_keys,
                float(double(scale) * kLog2e)};
  const double flops = 4.0 * double(N * H * D) * double(S) * double(S);
  const double bytes = 4.0 * double(out.bytes()) + 4.0 * double(N * S);
  // Same-buffer q/k/v views (a fused qkv) bind the same range three times; that is fine.
  record(g, "attention_encoder", label, {tl.wg, uint32_t(D), tl.br, tl.bc, tl.trs, tl.tro}, uint32_t(D), push, q_blocks,
         uint32_t(N * H), splits, q.tensor.ref, k.tensor.ref, v.tensor.ref, key_mask.ref, out, nullptr, flops, bytes);
}

}  // namespace smolvk::ops
