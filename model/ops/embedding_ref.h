#pragma once
// CPU twin of ops::embedding.
#include <cstdint>
#include <span>

namespace smolvk::ops {

// out[t * H + h] = table[clamp(ids[t], 0, V - 1) * H + h] (the shader clamps the same way).
void embedding_ref(std::span<const int32_t> ids, std::span<const float> table, int64_t V, int64_t H,
                   std::span<float> out);

}  // namespace smolvk::ops
