#pragma once
// Linear layer on the GPU: Y[M, N] = X[M, K] · W[N, K]ᵀ (+ bias[N]) (+ Y).
#include <cstdint>
#include <string>

#include "model/ops/common.h"
#include "model/ops/matmul_coopmat.h"

namespace smolvk::ops {

struct MatmulOptions {
  bool accumulate = false;  // Y += X·Wᵀ (a fused residual add) instead of Y = X·Wᵀ
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
};

// x: f32, any rank, rows = x.rows(), last dim K. w: [N, K] f32/f16/bf16. bias: null or [N] of
// w's dtype. y: f32 with x.rows() rows and y.dim(-1) >= y_col + N columns. Accumulates in f32.
// M <= 64 uses the mat-vec kernel; larger M the tensor-core GEMM where caps.use_coopmat (X
// and W rounded to fp16, products summed in f32, any shape), else the tiled f32 GEMM. Throws
// std::invalid_argument on mismatched shapes or dtypes. f16/bf16 w and bias are read as
// 32-bit words: their buffer must reach the next 4-byte boundary past the tensor (see
// matmul_split.h).
void matmul(Graph& g, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
            const MatmulOptions& options = {});

}  // namespace smolvk::ops
