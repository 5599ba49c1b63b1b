#version 450
// Tensor-core GEMM through VK_NV_cooperative_matrix2: Y[m, n] = sum_k X[m, k] * W[n, k]
// (+ bias, GELU, + Y). The workgroup owns a BM x BN tile of Y as one workgroup-scope
// accumulator and walks K in BK slices: X's BM x BK slice and W's BN x BK slice (read
// transposed as B) are loaded with tensor addressing straight from the buffers, and the
// driver picks the fragments, the staging through shared memory and the instruction order
// (matmul_coopmat.comp does all of that by hand with subgroup-scope 16x16 fragments).
// X and W hold f16 values (the host routes nothing else here); the tensor layouts clamp, so
// rows past M or N and columns past K load as zeros and any shape works. The epilogue adds
// the bias, applies GELU and adds the prior Y per element (coopMatPerElementNV) and stores
// through a clamped layout with the row stride, as f32, or as f16 with Y_HALF.
// Split-K as in matmul_coopmat.comp: workgroup z takes K columns [z·k_chunk, (z+1)·k_chunk)
// and writes its partial sums at Y + z·split_stride.
// Needs glslang 15 or later (GL_NV_cooperative_matrix2); built only where CMake found one.
// Opt-in (SMOLVK_COOPMAT2=1, runtime/capabilities.h): on the H200 (driver 580) it ran the
// vision GEMMs at 40-135 TFLOP/s by tile, against 149-156 for matmul_coopmat.comp.
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_EXT_shader_explicit_arithmetic_types : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : enable

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 8) const bool Y_HALF = false;  // (the id matmul_coopmat.comp gives it)

layout(push_constant) uniform Push {
  uint M, N, K;
  uint x_off, w_off, b_off, y_off, y_stride;
  uint flags;  // 1: add bias, 2: accumulate into Y, 64: GELU (tanh) after the bias
  uint k_chunk, split_stride;
  uint z_off;
  float eps;
} pc;

layout(std430, binding = 0) readonly buffer XBuf { float16_t xh[]; };
layout(std430, binding = 1) readonly buffer WBuf { float16_t wh[]; };
layout(std430, binding = 2) buffer YBuf { float y[]; };
layout(std430, binding = 2) buffer YBufH { float16_t yh[]; };
layout(std430, binding = 3) readonly buffer BBuf { float16_t bias[]; };

#include "activation.glsl"

// Tile origin and Y base of this workgroup, for the per-element epilogue.
uint g_m0, g_n0, g_ybase;

float epilogue(const in uint32_t row, const in uint32_t col, const in float v) {
  const uint m = g_m0 + row, n = g_n0 + col;
  if (m >= pc.M || n >= pc.N) return v;
  float r = v;
  if ((pc.flags & 1u) != 0u) r += float(bias[pc.b_off + n]);
  if ((pc.flags & 64u) != 0u) r = gelu_tanh(r);
  if ((pc.flags & 2u) != 0u) r += y[g_ybase + m * pc.y_stride + n];
  return r;
}

void main() {
  g_m0 = gl_WorkGroupID.y * BM;
  g_n0 = gl_WorkGroupID.x * BN;
  const uint kbeg = pc.k_chunk == 0u ? 0u : gl_WorkGroupID.z * pc.k_chunk;
  const uint kend = pc.k_chunk == 0u ? pc.K : min(pc.K, kbeg + pc.k_chunk);
  g_ybase = pc.y_off + gl_WorkGroupID.z * pc.split_stride;

  // X: M x K, W: N x K, both row-major with row stride K; zeros outside [0, kend).
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> lx = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> lw = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  lx = setTensorLayoutDimensionNV(lx, pc.M, kend);
  lx = setTensorLayoutStrideNV(lx, pc.K, 1);
  lw = setTensorLayoutDimensionNV(lw, pc.N, kend);
  lw = setTensorLayoutStrideNV(lw, pc.K, 1);
  tensorViewNV<2, false, 1, 0> transposed = createTensorViewNV(2, false, 1, 0);

  coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> acc =
      coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>(0.0);
  // (Loading slice k+1 before multiplying slice k was slower on the H200: 83-114 against
  // 100-135 TFLOP/s.)
  for (uint k0 = kbeg; k0 < kend; k0 += BK) {
    coopmat<float16_t, gl_ScopeWorkgroup, BM, BK, gl_MatrixUseA> a;
    coopmat<float16_t, gl_ScopeWorkgroup, BK, BN, gl_MatrixUseB> b;
    coopMatLoadTensorNV(a, xh, pc.x_off, sliceTensorLayoutNV(lx, g_m0, BM, k0, BK));
    coopMatLoadTensorNV(b, wh, pc.w_off, sliceTensorLayoutNV(lw, g_n0, BN, k0, BK), transposed);
    acc = coopMatMulAdd(a, b, acc);
  }

  if ((pc.flags & (1u | 2u | 64u)) != 0u) coopMatPerElementNV(acc, acc, epilogue);

  // Constant clamping on the store too: elements past M or N are dropped (with the undefined
  // mode the driver clamped them onto the last row / column, overwriting it).
  tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> ly = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
  ly = setTensorLayoutDimensionNV(ly, pc.M, pc.N);
  ly = setTensorLayoutStrideNV(ly, pc.y_stride, 1);
  if (Y_HALF) {
    coopmat<float16_t, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> h =
        coopmat<float16_t, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>(acc);
    coopMatStoreTensorNV(h, yh, g_ybase, sliceTensorLayoutNV(ly, g_m0, BM, g_n0, BN));
  } else {
    coopMatStoreTensorNV(acc, y, g_ybase, sliceTensorLayoutNV(ly, g_m0, BM, g_n0, BN));
  }
}
