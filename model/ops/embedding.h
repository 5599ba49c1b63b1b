#pragma once
// Token embedding gather on the GPU: out[t, :] = table[ids[t], :].
#include <cstdint>
#include <span>
#include <string>

#include "model/ops/common.h"

namespace smolvk::ops {

// ids: I32, any shape (T = numel). table: [V, H] f32/f16/bf16. out: f32 with T * H elements,
// last dim H. Ids outside [0, V) are clamped in the shader (never an out-of-bounds read);
// validate them first with check_token_ids. A table larger than one binding is split into
// row chunks, one dispatch each. max_chunk_bytes (test-only) caps the chunk size. An f16/bf16
// table is read as 32-bit words: its buffer must reach the next 4-byte boundary past it.
void embedding(Graph& g, const Tensor& ids, const Tensor& table, const Tensor& out, std::string name = {},
               uint64_t max_chunk_bytes = 0);

// Throws std::out_of_range naming the first id outside [0, vocab), its position and vocab.
void check_token_ids(std::span<const int32_t> ids, int64_t vocab);

}  // namespace smolvk::ops
