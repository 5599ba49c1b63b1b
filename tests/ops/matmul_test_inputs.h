#pragma once
// Weight uploads and the operands of one matmul test case, shared by the mat-vec / tiled and tensor-core tests:
// x [M, K], w [N, K] and bias [N] rounded to the weight dtype, a prior y [M, y_cols], all
// uniform in [-1, 1) from seeds seed .. seed + 3, uploaded at the given byte offsets.
#include <cstdint>
#include <vector>

#include "model/ops/matmul_ref.h"
#include "runtime/context.h"
#include "tests/ops/op_test_util.h"

namespace smolvk::test {

// Packed f32/f16/bf16 values in a buffer `byte_offset` bytes in, sized to whole 32-bit words
// (shaders read half-precision tensors as words).
inline Buffer upload_weights(Context& ctx, const ops::PackedWeights& p, uint64_t byte_offset = 0) {
  Buffer b = ctx.create_buffer((byte_offset + p.bytes.size() + 3) / 4 * 4);
  ctx.upload(b, p.bytes.data(), p.bytes.size(), byte_offset);
  return b;
}

struct MatmulInputs {
  std::vector<float> x, w, b, y0;
  ops::PackedWeights pw, pb;
  Buffer bx, bw, bb, by;
};

inline MatmulInputs make_matmul_inputs(Context& ctx, int64_t M, int64_t N, int64_t K, int64_t y_cols, DType wt,
                                       uint64_t x_byte_offset, uint64_t w_byte_offset, uint32_t seed) {
  MatmulInputs in;
  in.x = random_floats(size_t(M * K), seed, 1.0f);
  in.w = random_floats(size_t(N * K), seed + 1, 1.0f);
  in.b = random_floats(size_t(N), seed + 2, 1.0f);
  in.y0 = random_floats(size_t(M * y_cols), seed + 3, 1.0f);
  in.pw = ops::pack_weights(in.w, wt);
  in.pb = ops::pack_weights(in.b, wt);
  in.bx = ctx.create_buffer(x_byte_offset + in.x.size() * 4);
  in.bw = upload_weights(ctx, in.pw, w_byte_offset);
  in.bb = upload_weights(ctx, in.pb);
  in.by = upload(ctx, in.y0);
  ctx.upload(in.bx, in.x.data(), in.x.size() * 4, x_byte_offset);
  return in;
}

}  // namespace smolvk::test
