#pragma once
// Flash attention (online softmax over key tiles; never a full score matrix): causal decoder
// attention over a KV cache with GQA and left padding, and non-causal encoder attention with
// a key-padding mask. Activations are f32.
#include <cstdint>
#include <string>
#include <variant>

#include "model/ops/attention_coopmat.h"
#include "model/ops/common.h"

namespace smolvk::ops {

// The heads of a token-major activation, possibly a column slice of a wider row (e.g. the q,
// k or v part of a fused qkv output [tokens, (Hq + 2·Hkv)·D]). Head h of token r starts at
// element r·row_stride + col + h·D, with row_stride = tensor.numel() / tokens.
struct TokenHeads {
  Tensor tensor;
  int64_t col = 0;  // first element of head 0 within each row
};

// Folded into decode attention: h[b] += W_o · att[b] (W_o [H, Hq·D], h f32 [B, H], float
// atomics), and h_next (f32 [B, H], another buffer) zeroed for the next block to add into.
struct OutputProjection {
  Tensor w, h, h_next;
};

struct AttentionOptions {
  float scale = 0.0f;  // softmax scale; 0 means 1/√D
  int splits = 0;      // key splits (flash-decoding); 0 = chosen from the key count
  std::string name;    // profiler label; "" = the op name
  // The tensor-core kernel's tile (all zero = the device's default), and the test-only
  // emulated variant of it (scalar math, runs without tensor cores).
  AttentionCoopmatTile coopmat_tile{};
  bool emulate_coopmat = false;
  bool exact = false;  // the f32 kernels even where the tensor-core one would run
  // Decode steps (T = 1, one key split) where the device has float atomics: apply the output
  // projection too (see attention_decode.comp OPROJ); attention_decoder then returns true and
  // leaves `out` unwritten.
  const OutputProjection* o_proj = nullptr;
};

// Causal attention of T new tokens per batch row over the KV cache.
//   q        [B·T tokens] × Hq heads of D (TokenHeads; [B, T, Hq, D] when contiguous)
//   k_cache, v_cache f32 [B, Hkv, C, D]   (this layer's cache; rows 0..pos0+T−1 filled)
//   kv_start I32 [B]    first valid key of each batch row (left padding); keys before it
//                       are masked out
//   out      f32 [B, T, Hq, D]
//   pos0     position of the first new token (same for every batch row): a fixed value or a
//            params word, so a recorded decode step is replayed with a new position; or, for
//            a decode step (T = 1), one params word per batch row (ParamWord::per_row: rows
//            at different positions, continuous batching). A ParamWord's bound caps the keys
//            the key splits are planned for (keys past bound + T are never read).
// Query t sees keys kv_start[b] ≤ j ≤ pos0 + t. Hq must be a multiple of Hkv. A row with no
// valid key gets zeros. With a fixed pos0, pos0 + T ≤ C is checked; with a params word the
// shader clamps keys to C. Prefills (T ≥ kCoopmatDecoderMinTokens) run on tensor cores where
// attention_encoder would (same conditions and fp16 rounding).
// Returns whether options.o_proj was applied (false: out holds the attention output).
bool attention_decoder(Graph& g, const TokenHeads& q, const Tensor& k_cache, const Tensor& v_cache,
                       const Tensor& kv_start, const Tensor& out, const DeviceValue& pos0,
                       const AttentionOptions& options = {});

// Non-causal attention within each of N tiles of S tokens (the vision encoder). Where
// caps.use_coopmat (and D % 16 == 0, 16-byte aligned views, one split) it runs on tensor
// cores: q, k, v and the softmax weights are rounded to fp16, scores and sums stay f32. That
// kernel also takes f16 q, k, v and out (all four; elsewhere they are all f32).
//   q, k, v  [N·S tokens] × H heads of D (TokenHeads)
//   key_mask U32 or I32 [N, S]: 0 = padded patch, masked out as a key
//   out      [N, S, H, D]
// The kernel attention_encoder would run for `rows` query rows (and as many keys) of head_dim
// D on `caps` (aligned f32 views), for `smolvk info`.
std::string encoder_attention_kernel_choice(const Capabilities& caps, int64_t D, int64_t rows);

void attention_encoder(Graph& g, const TokenHeads& q, const TokenHeads& k, const TokenHeads& v, const Tensor& key_mask,
                       const Tensor& out, const AttentionOptions& options = {});

}  // namespace smolvk::ops
