#pragma once
// CPU reference of the attention ops: naive softmax in double, contiguous layouts.
#include <cstdint>
#include <span>

namespace smolvk::ops {

struct AttentionRefDims {
  int64_t B, T, Hq, Hkv, D;
};

// q, out [B, T, Hq, D]; caches [B, Hkv, C, D]; kv_start [B]. Query t (position pos0 + t)
// attends to keys kv_start[b] ≤ j ≤ pos0 + t. Rows without a valid key get zeros.
void attention_decoder_ref(std::span<const float> q, std::span<const float> k_cache, std::span<const float> v_cache,
                           int64_t C, std::span<const int32_t> kv_start, int64_t pos0, const AttentionRefDims& dims,
                           float scale, std::span<float> out);

// q, k, v, out [N, S, H, D]; key_mask [N, S] (0 = masked key).
void attention_encoder_ref(std::span<const float> q, std::span<const float> k, std::span<const float> v,
                           std::span<const int32_t> key_mask, int64_t N, int64_t S, int64_t H, int64_t D, float scale,
                           std::span<float> out);

}  // namespace smolvk::ops
