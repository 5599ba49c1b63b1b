// Shared by the matmul shaders: push constants and weight/bias fetch for each dtype.
// Defines: W_F32, W_F16 or W_BF16. Half-precision weights are bound as uint words and
// unpacked here; element i lives in word i >> 1, half i & 1 (any element offset works).
layout(push_constant) uniform Push {
  uint M, N, K;
  uint x_off;     // element offset of X row 0 in its binding
  uint w_off;     // element offset of W row 0 in its binding
  uint b_off;     // element offset of bias[0] in its binding
  uint y_off;     // element offset of Y[0, 0] (the first written column) in its binding
  uint y_stride;  // elements between Y rows (>= N for a column-range write)
  uint flags;     // 1: add bias, 2: accumulate into Y, 64: GELU (tanh) after the bias
                  // (matmul_coopmat.comp: 8: X is gate|up rows of 2K, read as silu(gate)·up)
  // Split-K (matmul_coopmat.comp only): workgroup z multiplies K columns [z·k_chunk,
  // (z+1)·k_chunk) (0: all of K) and writes its partial sums at Y + z·split_stride.
  uint k_chunk;
  uint split_stride;
  // matmul_reduce.comp with ROW_NORM: the RMSNorm of each finished Y row goes to Z (binding 4)
  // at z_off, weighted by the norm weight bound at binding 1 (from w_off), with eps.
  uint z_off;
  float eps;
} pc;

#include "activation.glsl"

#if defined(W_F32)
#define WTYPE float
#elif defined(W_F16) || defined(W_BF16)
#define WTYPE uint
#else
#error "define W_F32, W_F16 or W_BF16"
#endif

layout(std430, binding = 0) readonly buffer XBuf { float x[]; };
layout(std430, binding = 1) readonly buffer WBuf { WTYPE w[]; };
layout(std430, binding = 2) buffer YBuf { float y[]; };
layout(std430, binding = 3) readonly buffer BBuf { WTYPE bias[]; };

#if defined(W_F32)
float load_w(uint i) { return w[i]; }
float load_b(uint i) { return bias[i]; }
// Elements i and i+1; the f32 path has no alignment requirement.
vec2 load_w_pair(uint i) { return vec2(w[i], w[i + 1]); }
bool pair_aligned(uint i) { return true; }
#else
#include "half_words.glsl"
float load_w(uint i) { return unpack2(w[i >> 1])[i & 1u]; }
float load_b(uint i) { return unpack2(bias[i >> 1])[i & 1u]; }
// Elements i and i+1 from one word; requires pair_aligned(i).
vec2 load_w_pair(uint i) { return unpack2(w[i >> 1]); }
bool pair_aligned(uint i) { return (i & 1u) == 0u; }
#endif

// The epilogue shared by the kernels: bias, GELU, fused residual add, store.
float bias_act(uint n, float acc) {
  if ((pc.flags & 1u) != 0u) acc += load_b(pc.b_off + n);
  if ((pc.flags & 64u) != 0u) acc = gelu_tanh(acc);
  return acc;
}
void store_y(uint m, uint n, float acc) {
  acc = bias_act(n, acc);
  uint yi = pc.y_off + m * pc.y_stride + n;
  if ((pc.flags & 2u) != 0u) acc += y[yi];
  y[yi] = acc;
}
