#pragma once
// The SmolVLM graphs, built from ops. Read vision_graph.cpp and text_graph.cpp side by side
// with the architecture: patch embed → encoder layers → post-LN → pixel-unshuffle → proj;
// embed → splice → decoder layers → norm → lm_head → argmax/sample.
#include <vector>

#include "loader/config.h"
#include "model/device_weights.h"
#include "model/ops/logits.h"

namespace smolvk {

// Per-replay words of the decode program's params buffer.
namespace param {
inline constexpr uint32_t kStep = 1;        // sampling step (fresh noise every step)
inline constexpr uint32_t kPositions = 64;  // [B] per-row positions = cache slot of the token fed
inline constexpr uint32_t kRowSteps = 160;  // [B] per-row sampling steps (BatchSession)
}  // namespace param

struct VisionIO {
  ops::Tensor pixels;                       // f32 [N, C, H, W], or u8 with pixel_lut
  ops::Tensor pos_ids;                      // i32 [N, S]
  ops::Tensor key_valid;                    // i32 [N, S]
  ops::Tensor image_rows;                   // f32 [N · image_seq_len, text hidden] (output)
  const ops::Tensor* vision_out = nullptr;  // f32 [N, S, vision hidden] (optional output)
  const ops::Tensor* pixel_lut = nullptr;   // f32 [C, 256]: the processor's normalization of u8 pixels
};
void build_vision(Graph& g, const ModelConfig& c, const DeviceWeights& w, const VisionIO& io);

// Tiles per encoder pass of `seq` tokens each, with the GEMM/attention-only activations in
// `act_bytes` per value: what `pass_bytes` of activations hold (or the policy's fixed
// `fixed_tiles`), and no more than lets the widest activation (the f32 residual stream, qkv
// or the MLP's) fit one binding of `max_binding_bytes`. At least 1. `head_dim`: the attention's,
// padded (DeviceWeights::vision_head_dim; 0 = the config's).
int64_t vision_pass_tiles(const VisionConfig& vc, int64_t seq, uint64_t act_bytes, uint64_t pass_bytes,
                          uint32_t fixed_tiles, uint64_t max_binding_bytes, int64_t head_dim = 0);

struct KvCache {
  std::vector<DeviceTensor> k, v;  // per layer f32 [B, Hkv, C, D]
  int64_t batch = 0, capacity = 0;
};
KvCache make_kv_cache(Context& ctx, const ModelConfig& c, int64_t batch, int64_t capacity);

struct TextIO {
  int64_t batch = 0, tokens = 0;            // B, T (T = 1 for a decode step)
  ops::Tensor ids;                          // i32 [B·T] (unused when embeds is set)
  const ops::Tensor* embeds = nullptr;      // f32 [B·T, H] given instead of ids
  ops::Tensor positions;                    // i32 [B·T] cache slot = RoPE position of each token
  ops::Tensor kv_start;                     // i32 [B] first valid key (left padding)
  ops::DeviceValue pos0;                    // slot of the first token of this chunk
  const ops::Tensor* image_rows = nullptr;  // f32 [R, H] spliced at image_targets
  const ops::Tensor* image_targets = nullptr;
  ops::Tensor last_rows;  // i32 [B]: row of each batch row's last token
  ops::Tensor logits;     // f32 [B, V] (output)
  ops::Tensor next_ids;   // i32 [B] (output)
  ops::SamplingParams sampling;
  ops::DeviceValue step = uint32_t{0};
  // Per batch row instead (continuous batching): row b's own settings, its step in params
  // word row_steps.index + b. Empty: `sampling` and `step` for every row.
  std::vector<ops::SamplingParams> row_sampling;
  ops::ParamWord row_steps;
};
void build_text(Graph& g, const ModelConfig& c, const DeviceWeights& w, const KvCache& kv,
                const DeviceTensor& rope_table, const TextIO& io);

}  // namespace smolvk
