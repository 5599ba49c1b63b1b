#pragma once
// Logits post-processing on the GPU, so only token ids cross back to the host.
#include <cstdint>
#include <string>

#include "model/ops/common.h"

namespace smolvk::ops {

struct SamplingParams {
  float temperature = 1.0f;  // <= 0: greedy (argmax)
  int32_t top_k = 0;         // 0 (or >= vocab): off
  float top_p = 1.0f;        // >= 1: off; must be > 0
  uint64_t seed = 0;
};

// Whether `p` draws noise (sample) rather than taking the argmax (temperature <= 0 or top_k 1).
inline bool samples(const SamplingParams& p) { return p.temperature > 0 && p.top_k != 1; }

// ids I32 [B] = argmax over the last dim of logits f32 [B, V]; ties → lowest index
// (torch.argmax). One workgroup per row, any V.
void argmax(Graph& g, const Tensor& logits, const Tensor& ids, const std::string& name = "argmax");

// Reproducible sampling, one workgroup per row of logits f32 [B, V] → ids I32 [B]:
//  1. z = logit / temperature; keys = the order-preserving uint32 images of the floats z.
//  2. top-k: threshold = the k-th largest key, found by bisection over the key range
//     (32 counting passes at most; ties at the threshold are all kept).
//  3. top-p: threshold = the largest key t ≥ the top-k threshold with
//     Σ_{key ≥ t} exp(z − z_max) ≥ p · Σ_{key ≥ top-k threshold} exp(z − z_max), again by
//     bisection — the smallest head of the distribution holding mass p, like HF's top-p.
//  4. among tokens with key ≥ threshold: argmax(z_i + Gumbel_i) (ties → lowest index), the
//     Gumbel noise a counter hash of (seed, step, row, i) — see shaders/logits_rng.glsl.
// top_k == 1 and temperature <= 0 record an argmax instead. `step` is read from the params
// buffer at run time, so a replayed decode program draws fresh noise each step.
void sample(Graph& g, const Tensor& logits, const Tensor& ids, const SamplingParams& params, ParamWord step,
            const std::string& name = "sample");
// Row `row` of logits / ids alone, with its own settings and step, drawing the noise of row 0
// (so a request sampled in one row of a batch gets the tokens it gets alone). An argmax
// (temperature <= 0 or top_k == 1) covers every row.
void sample_row(Graph& g, const Tensor& logits, const Tensor& ids, int64_t row, const SamplingParams& params,
                ParamWord step, const std::string& name = "sample");
// The same with a step fixed at record time.
void sample(Graph& g, const Tensor& logits, const Tensor& ids, const SamplingParams& params, uint32_t step,
            const std::string& name = "sample");

}  // namespace smolvk::ops
