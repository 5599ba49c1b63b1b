#include "model/ops/logits.h"

#include <cmath>
#include <stdexcept>

#include "model/ops/norm_common.h"

namespace smolvk::ops {
namespace {

constexpr uint32_t kStaticStep = 0xFFFFFFFFu;

void check_shapes(const char* op, const Tensor& logits, const Tensor& ids) {
  expect_dtype(logits, DType::F32, op, "logits");
  expect_dtype(ids, DType::I32, op, "ids");
  if (logits.shape.size() != 2 || logits.dim(1) < 1 || ids.shape != std::vector<int64_t>{logits.dim(0)})
    throw std::invalid_argument(std::string(op) + ": logits " + shape_str(logits) +
                                " must be [B, V] with V >= 1 and ids " + shape_str(ids) + " [B]");
  expect_u32(logits.numel(), op, "logits elements");
}

// Rows are long (up to ~128k): the widest workgroup the device allows, up to 1024.
uint32_t logits_workgroup(const Capabilities& caps, int64_t vocab) { return row_workgroup(caps, vocab / 4, 1024); }

struct ArgmaxPush {
  uint32_t rows, vocab;
};

struct SamplePush {
  uint32_t rows, vocab;
  float inv_temp;
  uint32_t top_k;
  float top_p;
  uint32_t seed_lo, seed_hi, step, param_index;
  uint32_t first_row;
};

// Rows first_row .. first_row + count − 1 (count < 0: all from first_row on).
void record_sample(Graph& g, const Tensor& logits, const Tensor& ids, const SamplingParams& p, const TensorRef* params,
                   uint32_t param_index, uint32_t step, const std::string& name, int64_t first_row = 0,
                   int64_t count = -1) {
  check_shapes("sample", logits, ids);
  if (first_row < 0 || first_row >= logits.dim(0) || count > logits.dim(0) - first_row || count == 0)
    throw std::invalid_argument("sample: rows " + std::to_string(first_row) + " + " + std::to_string(count) +
                                " are not rows of logits " + shape_str(logits));
  if (!std::isfinite(p.temperature) || !(p.top_p > 0) || std::isnan(p.top_p) || p.top_k < 0)
    throw std::invalid_argument("sample: temperature " + std::to_string(p.temperature) + ", top_k " +
                                std::to_string(p.top_k) + ", top_p " + std::to_string(p.top_p) +
                                ": need a finite temperature, top_k >= 0 and top_p > 0");
  if (!samples(p)) return argmax(g, logits, ids, name);
  if (params && param_index >= Graph::kParamWords)
    throw std::invalid_argument("sample: step param index " + std::to_string(param_index) + " is past the " +
                                std::to_string(Graph::kParamWords) + " param words");
  const Capabilities& caps = g.context().caps();
  const int64_t rows = count < 0 ? logits.dim(0) - first_row : count, vocab = logits.dim(1);
  const uint32_t wg = logits_workgroup(caps, vocab);
  Dispatch d{
      .name = name, .op = "sample", .shader = caps.use_subgroup ? "logits_sample_sg" : "logits_sample", .spec = {wg}};
  d.bindings = {{logits.ref, Access::Read}, {ids.ref, Access::Write}};
  if (params) d.bindings.push_back({*params, Access::Read});
  d.set_push(SamplePush{uint32_t(rows), uint32_t(vocab), 1.0f / p.temperature, uint32_t(p.top_k), p.top_p,
                        uint32_t(p.seed), uint32_t(p.seed >> 32), step, params ? param_index : kStaticStep,
                        uint32_t(first_row)});
  d.groups = grid_1d(uint64_t(rows));
  // Up to 1 + 32 (top-k) + 33 (top-p) + 1 passes over the row.
  const double passes = 2 + (p.top_k > 0 && p.top_k < vocab ? 32 : 0) + (p.top_p < 1 ? 33 : 0);
  d.flops = passes * 4.0 * double(rows * vocab);
  d.bytes = passes * 4.0 * double(rows * vocab);
  g.add(std::move(d));
}

}  // namespace

void argmax(Graph& g, const Tensor& logits, const Tensor& ids, const std::string& name) {
  check_shapes("argmax", logits, ids);
  const Capabilities& caps = g.context().caps();
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  const uint32_t wg = logits_workgroup(caps, vocab);
  Dispatch d{
      .name = name, .op = "argmax", .shader = caps.use_subgroup ? "logits_argmax_sg" : "logits_argmax", .spec = {wg}};
  d.bindings = {{logits.ref, Access::Read}, {ids.ref, Access::Write}};
  d.set_push(ArgmaxPush{uint32_t(rows), uint32_t(vocab)});
  d.groups = grid_1d(uint64_t(rows));
  d.flops = double(logits.numel());
  d.bytes = double(logits.bytes());
  g.add(std::move(d));
}

void sample(Graph& g, const Tensor& logits, const Tensor& ids, const SamplingParams& params, ParamWord step,
            const std::string& name) {
  if (!step.params.valid()) throw std::invalid_argument("sample: step.params is not a params buffer");
  record_sample(g, logits, ids, params, &step.params, step.index, 0, name);
}

void sample(Graph& g, const Tensor& logits, const Tensor& ids, const SamplingParams& params, uint32_t step,
            const std::string& name) {
  record_sample(g, logits, ids, params, nullptr, 0, step, name);
}

void sample_row(Graph& g, const Tensor& logits, const Tensor& ids, int64_t row, const SamplingParams& params,
                ParamWord step, const std::string& name) {
  if (!step.params.valid()) throw std::invalid_argument("sample_row: step.params is not a params buffer");
  record_sample(g, logits, ids, params, &step.params, step.index, 0, name, row, 1);
}

}  // namespace smolvk::ops
