#pragma once
// Binding helpers for ops that split tensors into several bindings (matmul, embedding):
// every binding must start at a multiple of minStorageBufferOffsetAlignment and span at
// most maxStorageBufferRange bytes.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>

#include "runtime/graph.h"

namespace smolvk::ops {

// A binding that starts at the aligned offset at or below the wanted byte range, plus the
// element offset at which the wanted range begins inside it. Shaders view f16/bf16 data as
// 32-bit words, so the binding is rounded up to whole words: a word only partly inside a
// binding reads as 0 under robust access (lavapipe). The buffer must therefore extend to the
// next 4-byte boundary past a half-precision tensor with an odd element count (buffers whose
// size is a multiple of 4 always do); otherwise Graph::compile reports the binding.
struct AlignedBinding {
  TensorRef ref;
  uint32_t elem_offset = 0;
};

inline AlignedBinding bind_aligned(const TensorRef& t, uint64_t off, uint64_t bytes, uint64_t align, uint64_t elem_size,
                                   const std::string& who) {
  const uint64_t start = t.offset + off;
  const uint64_t delta = start % align;
  if (delta % elem_size != 0)
    throw std::invalid_argument(who + ": tensor byte offset " + std::to_string(start) +
                                " is not a multiple of its element size " + std::to_string(elem_size));
  return {TensorRef{t.resource, start - delta, (delta + bytes + 3) / 4 * 4}, uint32_t(delta / elem_size)};
}

// How many rows (of row_bytes each, starting `start` bytes into an aligned resource) one
// binding of at most `limit` bytes (after bind_aligned's rounding) can hold, capped by
// `remaining`. Where possible the count
// is a multiple of the rows that keep the next chunk's start aligned.
inline uint64_t rows_per_binding(uint64_t start, uint64_t row_bytes, uint64_t remaining, uint64_t limit, uint64_t align,
                                 const std::string& who) {
  const uint64_t delta = start % align;
  const uint64_t rows = limit > delta + 3 ? (limit - delta - 3) / row_bytes : 0;
  if (rows == 0)
    throw std::invalid_argument(who + ": one row of " + std::to_string(row_bytes) +
                                " bytes does not fit a binding of " + std::to_string(limit) +
                                " bytes (maxStorageBufferRange or max_chunk_bytes)");
  if (rows >= remaining) return remaining;
  const uint64_t granule = align / std::gcd(align, row_bytes);
  return rows >= granule ? rows - rows % granule : rows;
}

}  // namespace smolvk::ops
