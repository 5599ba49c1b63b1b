#pragma once
// Linear layer on the GPU: Y[M, N] = X[M, K] · W[N, K]ᵀ (+ bias[N]) (+ Y).
#include <cstdint>
#include <string>

#include "model/ops/common.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/matmul_coopmat.h"

namespace smolvk::ops {

struct MatmulOptions {
  bool accumulate = false;  // Y += X·Wᵀ (a fused residual add) instead of Y = X·Wᵀ
  bool gelu = false;        // Y = gelu_tanh(X·Wᵀ + bias) (not with accumulate)
  std::string name;         // profiler label; "matmul" when empty
  // Write columns [y_col, y_col + N) of a wider Y (its last dim is the row stride), e.g. one
  // row chunk of a split weight or one part of a fused QKV / gate-up output.
  int64_t y_col = 0;
  // Test-only: cap every binding at this many bytes (0 = the device's maxStorageBufferRange)
  // to force the split into several dispatches.
  uint64_t max_chunk_bytes = 0;
  // Benchmark-only: another tensor-core tile shape; throws std::invalid_argument if it is
  // malformed or does not fit the device's workgroup / shared-memory limits.
  CoopmatTile coopmat_tile{};
  // Test/benchmark: the tensor-core GEMM's K splits (0 = the kernel policy's choice by grid
  // size, 1 = none; at most one per K slice).
  uint32_t split_k = 0;
  // Test-only: where M > 64, run the tensor-core GEMM's staging and epilogue with scalar
  // math in place of the matrix instructions (any device, slow).
  bool emulate_coopmat = false;
  // f32 arithmetic throughout even where the device has the (fp16-input) tensor-core GEMM.
  bool exact = false;
  // Fusions for the mat-vec path (M <= kMatVecMaxRows; larger M throws): x's rows are
  // RMS-normalised first, x·rsqrt(mean(x²) + norm_eps)·norm_weight (HF Llama RMSNorm;
  // norm_weight [K] of w's dtype), and/or x is a gate|up buffer [.., 2K] whose product input
  // is silu(gate)·up (SwiGLU; the norm, if both, applies to that input). The tensor-core GEMM
  // also takes swiglu_input alone (f32 x, any M).
  const Tensor* norm_weight = nullptr;
  float norm_eps = 1e-6f;
  bool swiglu_input = false;
  // Then Z = rms_norm(Y) (HF Llama) of Y's finished rows: the decoder's next op. Needs whole f32
  // rows (y_col 0, N = y's row length); the weight is [N] of w's dtype, z f32 [rows, N]. Where
  // the tensor-core GEMM splits K, its reduce pass computes it (one dispatch fewer); elsewhere
  // it is recorded as its own dispatch after the matmul.
  const Tensor* then_norm_weight = nullptr;
  const Tensor* then_norm_out = nullptr;
  float then_norm_eps = 1e-6f;
  std::string then_norm_name;
  // The kernel policy to choose by (null: kernel_policy(caps)); the OpList passes its own.
  const KernelPolicy* policy = nullptr;
  // Mat-vec path: also store every written Y element into y_copy (f32, y's shape), e.g. a
  // snapshot of the residual stream for a next dispatch that adds into it with atomics.
  const Tensor* y_copy = nullptr;
};

// Row counts up to this use a mat-vec kernel (and allow MatmulOptions' fusions).
inline constexpr int64_t kMatVecMaxRows = 64;

// x: f32, any rank, rows = x.rows(), last dim K (2K with swiglu_input). w: [N, K] f32/f16/bf16. bias: null or [N] of
// w's dtype. y: f32 with x.rows() rows and y.dim(-1) >= y_col + N columns. Accumulates in f32.
// M <= 64 uses the mat-vec kernel; larger M the tensor-core GEMM where caps.use_coopmat (X
// and W rounded to fp16, products summed in f32, any shape), else the tiled f32 GEMM. The
// tensor-core GEMM also takes f16 x (what it would round f32 x to) and writes f16 y (rounded
// from the f32 result; even N, y_col and y row length, no accumulate). Throws
// std::invalid_argument on mismatched shapes or dtypes. f16/bf16 w and bias are read as
// 32-bit words: their buffer must reach the next 4-byte boundary past the tensor (see
// matmul_split.h).
void matmul(Graph& g, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
            const MatmulOptions& options = {});

// The kernel a plain matmul of `rows` rows by `n_cols` output columns, weights of `wt` (X in f16
// when `x_half`), would run on `caps` (shader name and specialization constants), for `smolvk info`.
// `weight_bytes`: the weight's size, for the batched mat-vec's size rule (0: not applied).
std::string matmul_kernel_choice(const Capabilities& caps, int64_t rows, uint64_t n_cols, DType wt,
                                 bool x_half = false, uint64_t weight_bytes = 0);

// A Llama layer's fused qkv projection with RoPE and the KV-cache write folded into the
// mat-vec (decode; at most kMatVecMaxRows rows): q = (x·Wᵀ)'s q heads rotated, written to
// q_out [B, T, Hq, D]; k heads rotated and v heads as they are written to the caches at
// (b, head, positions[b·T + t]) — the same as matmul followed by rope_qkv_write. w is
// [(Hq + 2·Hkv)·D, K]; options.norm_weight / norm_eps fuse the RMSNorm of x as for matmul
// (other options but name are ignored). Throws std::invalid_argument on bad shapes.
struct RopeQkvWrite {
  Tensor positions;         // I32 [B·T]
  Tensor table;             // f32 [P, D/2, 2] (rope_table)
  Tensor q_out;             // f32 [B, T, Hq, D]
  Tensor k_cache, v_cache;  // f32 [B, Hkv, C, D]
};
void matmul_rope_qkv(Graph& g, const Tensor& x, const Tensor& w, const RopeQkvWrite& rope,
                     const MatmulOptions& options = {});

}  // namespace smolvk::ops
