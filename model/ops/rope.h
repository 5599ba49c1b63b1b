#pragma once
// Rotary position embedding in the HF rotate-half convention, with the cos/sin values taken
// from a host-built table (GLSL sin/cos are too inaccurate at large angles).
#include <cstdint>
#include <string>
#include <vector>

#include "loader/config.h"
#include "model/ops/common.h"

namespace smolvk::ops {

// inv_freq[i] = 1 / θ^(2i/D) for i < D/2, computed in float32 the way transformers does
// (_compute_default_rope_parameters), then scaled as `scaling` says (linear or llama3).
std::vector<float> rope_inv_freq(int head_dim, double theta, const RopeScaling* scaling = nullptr);

// The table the RoPE shaders read: f32 [positions, head_dim/2, 2] holding (cos, sin) of
// angle = float32(pos · inv_freq[i]); cos/sin of that float angle are evaluated in double
// and rounded to float.
std::vector<float> rope_table(int64_t positions, int head_dim, double theta, const RopeScaling* scaling = nullptr);

// Rotates q and k of a fused qkv output and scatters them:
//   qkv      f32 [B·T, (Hq + 2·Hkv)·D]  (q heads, then k heads, then v heads)
//   positions I32 [B·T]                  (position of each token; read on the device)
//   table    f32 [P, D/2, 2]             (rope_table)
//   q_out    f32 [B, T, Hq, D]           (rotated q)
//   k_cache, v_cache f32 [B, Hkv, C, D]  (rotated k / plain v written at row position)
// All sizes come from the shapes. Tokens whose position is ≥ P or ≥ C are not written.
void rope_qkv_write(Graph& g, const Tensor& qkv, const Tensor& positions, const Tensor& table, const Tensor& q_out,
                    const Tensor& k_cache, const Tensor& v_cache, const std::string& name = "rope_qkv");

// The sizes of a rotate-and-scatter (rope_qkv_write, matmul_rope_qkv), validated: q_out
// [B, T, Hq, D], caches [B, Hkv, C, D], positions I32 [B·T], table [P, D/2, 2]; throws
// std::invalid_argument naming `op` otherwise.
struct RopeQkvShape {
  int64_t B, T, Hq, Hkv, C, D, P;
};
RopeQkvShape check_rope_qkv(const Tensor& q_out, const Tensor& positions, const Tensor& table, const Tensor& k_cache,
                            const Tensor& v_cache, const std::string& op);

// Rotates x f32 [rows, H, D] in place with positions I32 [rows].
void rope_inplace(Graph& g, const Tensor& x, const Tensor& positions, const Tensor& table,
                  const std::string& name = "rope");

}  // namespace smolvk::ops
