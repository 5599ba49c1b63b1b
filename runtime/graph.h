#pragma once
// The scheduler. Ops append dispatches to a Graph; compile() assigns transient tensors to
// one arena by liveness, inserts a barrier only where a dispatch reads or overwrites what an
// earlier one wrote (or overwrites what an earlier one read), allocates every descriptor set
// and records the command buffer once. A Program is then run (replayed) any number of
// times; per-replay values (decode position, KV length, ...) live in a small host-written
// params buffer that shaders read, so nothing is re-recorded.
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/dtype.h"

namespace smolvk {

// A byte range of a graph resource (an external Buffer, a transient, or the params buffer).
struct TensorRef {
  uint32_t resource = UINT32_MAX;
  uint64_t offset = 0;
  uint64_t size = 0;
  bool valid() const { return resource != UINT32_MAX; }
  // A sub-range, relative to this one.
  TensorRef slice(uint64_t off, uint64_t bytes) const { return {resource, offset + off, bytes}; }
};

enum class Access : uint8_t { Read, Write, ReadWrite };

struct Binding {
  TensorRef ref;
  Access access = Access::Read;
};

inline constexpr uint32_t kMaxBindings = 8;
inline constexpr uint32_t kMaxPushBytes = 128;

struct Dispatch {
  std::string name;               // what it computes, e.g. "text.L3.q_proj" (profiler label)
  std::string op;                 // op family, e.g. "matmul" (profiler aggregation)
  std::string shader;             // embedded shader variant, see shaders/variants.cmake
  std::vector<uint32_t> spec;     // specialization constants, constant_id 0..n-1
  std::vector<Binding> bindings;  // binding i of set 0 = bindings[i]
  std::array<uint8_t, kMaxPushBytes> push{};
  uint32_t push_size = 0;
  std::array<uint32_t, 3> groups{1, 1, 1};
  double flops = 0;  // for the profiler's GFLOP/s
  double bytes = 0;  // bytes the dispatch must move, for GB/s

  template <class T>
  Dispatch& set_push(const T& value) {
    static_assert(sizeof(T) <= kMaxPushBytes, "push constants are limited to 128 bytes");
    std::memcpy(push.data(), &value, sizeof(T));
    push_size = sizeof(T);
    return *this;
  }
};

struct DispatchTiming {
  std::string name, op, shader;
  std::array<uint32_t, 3> groups;
  double flops, bytes;
  double ns;  // GPU time from timestamps
};

class Program;

class Graph {
 public:
  explicit Graph(Context& ctx);
  ~Graph();
  Graph(Graph&&) noexcept;

  Context& context() { return ctx_; }

  // A graph-owned tensor placed in the arena; its memory is shared with tensors whose
  // lifetimes (first to last dispatch touching them) do not overlap. Contents are undefined
  // at its first use: write it before reading it.
  TensorRef transient(uint64_t bytes, std::string name = {});
  // A caller-owned buffer (weights, inputs, KV cache, outputs); must outlive the Program.
  TensorRef external(const Buffer& buffer, uint64_t offset = 0, uint64_t size = UINT64_MAX);
  // The per-replay parameter words (Program::params()); up to 256 uint32 values.
  TensorRef params();
  static constexpr uint32_t kParamWords = 256;

  void add(Dispatch d);
  size_t size() const { return dispatches_.size(); }
  const std::vector<Dispatch>& dispatches() const { return dispatches_; }
  // Whether `t` is a transient tensor (scratch that no caller reads after the program).
  bool is_transient(const TensorRef& t) const {
    return t.resource < resources_.size() && resources_[t.resource].kind == Resource::Transient;
  }

  // Copy `src` (at most kReadBackBytes) to host-visible memory at the end of every run, so a
  // small result (e.g. the sampled token ids) needs no separate download per replay.
  void read_back(const TensorRef& src);
  static constexpr uint64_t kReadBackBytes = 64 * 1024;

  // Turn timestamps on for every dispatch (if the device has them).
  void enable_timestamps(bool on = true) { timestamps_ = on; }

  Program compile();

  struct Resource {
    enum Kind { External, Transient, Params } kind;
    Buffer buffer;  // External
    uint64_t size = 0;
    std::string name;
  };

 private:
  friend class Program;
  Context& ctx_;
  std::vector<Resource> resources_;
  std::vector<Dispatch> dispatches_;
  uint32_t params_resource_ = UINT32_MAX;
  TensorRef read_back_;
  bool timestamps_ = false;
};

class Program {
 public:
  Program();
  ~Program();
  Program(Program&&) noexcept;
  Program& operator=(Program&&) noexcept;

  // Submit the recorded command buffer and wait for it.
  void run();
  // run() in two halves, so the host can record or upload the next pass while this one runs:
  // submit() queues the work, wait() blocks until it is done. Each submit needs its wait
  // before the next submit; a program destroyed in flight waits for the GPU first.
  void submit();
  void wait();
  // Host-visible per-replay words, read by shaders through Graph::params(). Write before run().
  std::span<uint32_t> params();
  // The bytes Graph::read_back copied at the end of the last run.
  std::span<const uint8_t> read_back() const;
  void set_param(uint32_t index, uint32_t value) { params()[index] = value; }
  void set_param_f32(uint32_t index, float value) { std::memcpy(&params()[index], &value, 4); }

  size_t dispatch_count() const;
  size_t barrier_count() const;
  // barrier_before(i): whether a barrier was recorded right before dispatch i.
  bool barrier_before(size_t i) const;
  uint64_t arena_bytes() const;          // the arena actually allocated (peak by liveness)
  uint64_t transient_bytes_sum() const;  // what one allocation per tensor would have cost
  // Per-dispatch GPU times of the last run (empty without timestamps).
  std::vector<DispatchTiming> timings() const;

  struct Impl;

 private:
  friend class Graph;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smolvk
