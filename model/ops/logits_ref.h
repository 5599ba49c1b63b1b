#pragma once
// CPU twins of ops::argmax and ops::sample: the same algorithm and the same noise, so tests
// compare token ids exactly.
#include <cstdint>
#include <span>
#include <vector>

#include "model/ops/logits.h"

namespace smolvk::ops::ref {

std::vector<int32_t> argmax(std::span<const float> logits, int64_t rows, int64_t vocab);
std::vector<int32_t> sample(std::span<const float> logits, int64_t rows, int64_t vocab, const SamplingParams& params,
                            uint32_t step);

// The noise of token `index` in `row` (shaders/logits_rng.glsl, bit for bit up to log()).
float sample_gumbel(uint64_t seed, uint32_t step, uint32_t row, uint32_t index);

}  // namespace smolvk::ops::ref
