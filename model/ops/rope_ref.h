#pragma once
// CPU reference of the RoPE ops (plain loops, same float32 arithmetic as transformers).
#include <cstdint>
#include <span>

namespace smolvk::ops {

// x [rows, H, D] rotated in place; table [P, D/2, 2] as from rope_table().
void rope_inplace_ref(std::span<float> x, int64_t rows, int64_t H, int64_t D, std::span<const int32_t> positions,
                      std::span<const float> table);

// Same contract as rope_qkv_write (shapes in model/ops/rope.h).
void rope_qkv_write_ref(std::span<const float> qkv, std::span<const int32_t> positions, std::span<const float> table,
                        int64_t B, int64_t T, int64_t Hq, int64_t Hkv, int64_t D, int64_t C, std::span<float> q_out,
                        std::span<float> k_cache, std::span<float> v_cache);

}  // namespace smolvk::ops
