#pragma once
// Shared by the op dispatch functions: a typed view of a graph tensor and grid helpers.
#include <cstdint>
#include <initializer_list>
#include <numeric>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "runtime/graph.h"

namespace smolvk::ops {

// A graph tensor with its element type and shape (row-major, last dim contiguous).
struct Tensor {
  TensorRef ref;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;

  int64_t numel() const { return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>()); }
  uint64_t bytes() const { return uint64_t(numel()) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape.at(i < 0 ? shape.size() + i : i); }
  int64_t rows() const { return numel() / shape.back(); }  // all dims but the last
};

// The same bytes seen with another shape of the same element count.
inline Tensor reshape(const Tensor& t, std::vector<int64_t> shape) {
  Tensor r{t.ref, t.dtype, std::move(shape)};
  if (r.numel() != t.numel()) throw std::invalid_argument("reshape changes the element count");
  return r;
}

inline Tensor transient(Graph& g, DType t, std::vector<int64_t> shape, std::string name = {}) {
  Tensor x{{}, t, std::move(shape)};
  x.ref = g.transient(x.bytes(), std::move(name));
  return x;
}
inline Tensor external(Graph& g, const Buffer& b, DType t, std::vector<int64_t> shape, uint64_t offset = 0) {
  Tensor x{{}, t, std::move(shape)};
  x.ref = g.external(b, offset, x.bytes());
  return x;
}

// A word of the graph's params buffer (Graph::params()), read on the device at every replay
// (Program::set_param(index, v) writes it).
struct ParamWord {
  TensorRef params;
  uint32_t index = 0;
  // One value per batch row: row b's is word index + b (a decode step whose rows sit at
  // different positions). Only the ops that say so take it.
  bool per_row = false;
  // An upper bound of the value(s) over every replay, or 0 when unknown: lets an op size its
  // work for what will really be read (attention's key splits).
  uint32_t bound = 0;
};
// A value fixed at record time, or one read from the params buffer at run time.
using DeviceValue = std::variant<uint32_t, ParamWord>;

// "f32[2,3]": for error messages.
std::string shape_str(const Tensor& t);
// "shader [spec0,spec1,...]": a kernel choice as `smolvk info` prints it.
std::string kernel_str(const std::string& shader, const std::vector<uint32_t>& spec);
// Throws std::invalid_argument("op: what") unless ok.
void expect(bool ok, const std::string& op, const std::string& what);
// Throws unless k and v are both f32 [B, Hkv, C, D] of one shape (a layer's KV cache).
void expect_kv_cache(const Tensor& k, const Tensor& v, const std::string& op);
// Throws unless n elements can be indexed with 32-bit shader arithmetic.
void check_u32(int64_t n, const std::string& op, const std::string& what);

inline uint32_t ceil_div(uint64_t a, uint64_t b) { return uint32_t((a + b - 1) / b); }

// A 1-D count of workgroups spread over x and y so neither exceeds 65535 (the minimum
// maxComputeWorkGroupCount); shaders rebuild the index as y * gl_NumWorkGroups.x + x.
inline std::array<uint32_t, 3> grid_1d(uint64_t groups) {
  uint32_t x = uint32_t(std::min<uint64_t>(groups, 65535));
  if (x == 0) x = 1;
  return {x, ceil_div(groups, x), 1};
}

}  // namespace smolvk::ops
