// Graph → Program: liveness-based arena, dependency-tracked barriers, one recorded command
// buffer that is replayed.
#include "runtime/graph.h"

#include <algorithm>

#include "runtime/context_impl.h"

namespace smolvk {
namespace {
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

struct Range {
  VkBuffer buffer;
  uint64_t begin, end;
  bool overlaps(const Range& o) const { return buffer == o.buffer && begin < o.end && o.begin < end; }
};
}  // namespace

struct Program::Impl {
  Context::Impl* ctx = nullptr;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  VkDescriptorPool pool = VK_NULL_HANDLE;
  VkQueryPool queries = VK_NULL_HANDLE;
  Buffer arena;
  Buffer params_device;
  std::unique_ptr<HostBuffer> params_host;
  std::unique_ptr<HostBuffer> read_back;
  uint64_t read_back_bytes = 0;
  std::vector<Dispatch> dispatches;  // push/bindings dropped after recording; kept for names
  std::vector<bool> barrier_before;
  uint64_t arena_bytes = 0, transient_sum = 0;
  bool ran = false;
  bool in_flight = false;  // submitted, not yet waited for

  ~Impl() {
    if (!ctx) return;
    VkDevice d = ctx->device;
    // Submitted and abandoned (an exception between submit() and wait()): its command buffer
    // and fence may only go once the GPU is done with them.
    if (in_flight && fence) vkWaitForFences(d, 1, &fence, VK_TRUE, UINT64_MAX);
    if (queries) vkDestroyQueryPool(d, queries, nullptr);
    if (pool) vkDestroyDescriptorPool(d, pool, nullptr);
    if (fence) vkDestroyFence(d, fence, nullptr);
    if (cmd) vkFreeCommandBuffers(d, ctx->command_pool, 1, &cmd);
  }
};

Graph::Graph(Context& ctx) : ctx_(ctx) {}
Graph::~Graph() = default;
Graph::Graph(Graph&&) noexcept = default;

TensorRef Graph::transient(uint64_t bytes, std::string name) {
  if (bytes == 0) throw GpuError("transient tensor '" + name + "' has zero size");
  resources_.push_back({Resource::Transient, {}, bytes, std::move(name)});
  return {uint32_t(resources_.size() - 1), 0, bytes};
}

TensorRef Graph::external(const Buffer& buffer, uint64_t offset, uint64_t size) {
  if (!buffer.valid()) throw GpuError("Graph::external: invalid buffer");
  if (size == UINT64_MAX) size = buffer.size() - std::min(offset, buffer.size());
  if (offset + size > buffer.size()) throw GpuError("Graph::external: range past the end of the buffer");
  resources_.push_back({Resource::External, buffer, buffer.size(), {}});
  return {uint32_t(resources_.size() - 1), offset, size};
}

TensorRef Graph::params() {
  if (params_resource_ == UINT32_MAX) {
    resources_.push_back({Resource::Params, {}, kParamWords * 4, "params"});
    params_resource_ = uint32_t(resources_.size() - 1);
  }
  return {params_resource_, 0, kParamWords * 4};
}

void Graph::read_back(const TensorRef& src) {
  if (!src.valid() || src.resource >= resources_.size() || resources_[src.resource].kind != Resource::External)
    throw GpuError("Graph::read_back: the source must be a range of an external buffer");
  if (src.size == 0 || src.size > kReadBackBytes)
    throw GpuError("Graph::read_back: " + std::to_string(src.size) + " bytes; at most " +
                   std::to_string(kReadBackBytes) + " can be read back");
  read_back_ = src;
}

void Graph::add(Dispatch d) {
  if (d.bindings.size() > kMaxBindings) throw GpuError("dispatch '" + d.name + "' has more than 8 bindings");
  for (const auto& b : d.bindings)
    if (!b.ref.valid() || b.ref.resource >= resources_.size())
      throw GpuError("dispatch '" + d.name + "' binds a tensor of another graph");
  for (uint32_t g : d.groups)
    if (g == 0) throw GpuError("dispatch '" + d.name + "' has an empty grid");
  for (int i = 0; i < 3; ++i)
    if (d.groups[i] > ctx_.caps().max_workgroup_count[i])
      throw GpuError("dispatch '" + d.name + "' grid exceeds maxComputeWorkGroupCount");
  dispatches_.push_back(std::move(d));
}

namespace {

// Where each transient lives in the one arena: greedy, largest first, tensors whose lifetimes
// (first to last dispatch touching them) do not overlap share memory.
struct ArenaPlan {
  std::vector<uint64_t> offset;  // per resource (transients only)
  uint64_t bytes = 0;            // the arena's size
  uint64_t transient_sum = 0;    // what the transients would take without sharing
};

ArenaPlan plan_arena(const std::vector<Graph::Resource>& resources, const std::vector<Dispatch>& dispatches,
                     uint64_t align) {
  const size_t nres = resources.size();
  std::vector<int64_t> first(nres, INT64_MAX), last(nres, -1);
  for (size_t i = 0; i < dispatches.size(); ++i)
    for (const auto& b : dispatches[i].bindings) {
      first[b.ref.resource] = std::min<int64_t>(first[b.ref.resource], int64_t(i));
      last[b.ref.resource] = std::max<int64_t>(last[b.ref.resource], int64_t(i));
    }
  ArenaPlan plan;
  plan.offset.assign(nres, 0);
  std::vector<uint32_t> order;
  for (uint32_t r = 0; r < nres; ++r)
    if (resources[r].kind == Graph::Resource::Transient && last[r] >= 0) order.push_back(r);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return resources[a].size > resources[b].size; });
  std::vector<uint32_t> placed;
  for (uint32_t r : order) {
    const uint64_t size = align_up(resources[r].size, align);
    plan.transient_sum += size;
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (uint32_t o : placed)
      if (first[o] <= last[r] && first[r] <= last[o])
        busy.push_back({plan.offset[o], plan.offset[o] + align_up(resources[o].size, align)});
    std::sort(busy.begin(), busy.end());
    uint64_t off = 0;
    for (auto [b, e] : busy) {
      if (off + size <= b) break;
      off = std::max(off, e);
    }
    plan.offset[r] = off;
    plan.bytes = std::max(plan.bytes, off + size);
    placed.push_back(r);
  }
  return plan;
}

// One descriptor set per dispatch from a new pool, allocated now and reused by every replay.
std::vector<VkDescriptorSet> allocate_sets(Context::Impl& C, size_t n, VkDescriptorPool* pool) {
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max<uint32_t>(1, uint32_t(n) * kMaxBindings)};
  VkDescriptorPoolCreateInfo dpci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpci.maxSets = std::max<uint32_t>(1, uint32_t(n));
  dpci.poolSizeCount = 1;
  dpci.pPoolSizes = &ps;
  VK_CHECK(vkCreateDescriptorPool(C.device, &dpci, nullptr, pool));
  std::vector<VkDescriptorSet> sets(n);
  if (!sets.empty()) {
    std::vector<VkDescriptorSetLayout> layouts(sets.size(), C.set_layout);
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = *pool;
    ai.descriptorSetCount = uint32_t(sets.size());
    ai.pSetLayouts = layouts.data();
    VK_CHECK(vkAllocateDescriptorSets(C.device, &ai, sets.data()));
  }
  return sets;
}

// What each dispatch reads and writes (for the barriers).
struct Accesses {
  std::vector<std::vector<Range>> reads, writes;
};

// Fills every dispatch's set (bindings past its own get the context's dummy buffer), checking
// each range against the device's limits.
template <typename Resolve>
Accesses write_sets(Context::Impl& C, const std::vector<Dispatch>& dispatches, const std::vector<VkDescriptorSet>& sets,
                    Resolve resolve) {
  Accesses acc{std::vector<std::vector<Range>>(dispatches.size()), std::vector<std::vector<Range>>(dispatches.size())};
  std::vector<VkDescriptorBufferInfo> infos;
  infos.reserve(dispatches.size() * kMaxBindings);
  std::vector<VkWriteDescriptorSet> wds;
  auto add = [&](VkDescriptorSet set, uint32_t binding, VkDescriptorBufferInfo info) {
    infos.push_back(info);
    VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w.dstSet = set;
    w.dstBinding = binding;
    w.descriptorCount = 1;
    w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    w.pBufferInfo = &infos.back();
    wds.push_back(w);
  };
  for (size_t i = 0; i < dispatches.size(); ++i) {
    const Dispatch& d = dispatches[i];
    for (uint32_t j = 0; j < d.bindings.size(); ++j) {
      const Binding& b = d.bindings[j];
      Range r = resolve(b.ref, d.name);
      if (r.end - r.begin > C.caps.max_storage_buffer_range)
        throw GpuError("dispatch '" + d.name + "' binding " + std::to_string(j) + " spans " +
                       std::to_string(r.end - r.begin) +
                       " bytes, over this device's "
                       "maxStorageBufferRange of " +
                       std::to_string(C.caps.max_storage_buffer_range) + " (split the tensor)");
      if (r.begin % C.caps.min_storage_buffer_offset_alignment)
        throw GpuError("dispatch '" + d.name + "' binding " + std::to_string(j) +
                       " starts at an offset not aligned to minStorageBufferOffsetAlignment");
      if (b.access != Access::Write) acc.reads[i].push_back(r);
      if (b.access != Access::Read) acc.writes[i].push_back(r);
      add(sets[i], j, {r.buffer, r.begin, r.end - r.begin});
    }
    for (uint32_t j = uint32_t(d.bindings.size()); j < kMaxBindings; ++j)
      add(sets[i], j, {C.dummy->block->buffer, C.dummy->offset, 256});
  }
  if (!wds.empty()) vkUpdateDescriptorSets(C.device, uint32_t(wds.size()), wds.data(), 0, nullptr);
  return acc;
}

void memory_barrier(VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
                    VkAccessFlags dst_access) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = src_access;
  mb.dstAccessMask = dst_access;
  vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

// The dispatches in order, with a barrier only before a dispatch whose reads or writes overlap
// an earlier unbarriered write (or whose writes overlap an earlier read); timestamps around
// each where `queries` is set. Returns, per dispatch, whether a barrier precedes it.
std::vector<bool> record_dispatches(VkCommandBuffer cmd, const Context::Impl& C,
                                    const std::vector<Dispatch>& dispatches, const std::vector<VkDescriptorSet>& sets,
                                    const std::vector<VkPipeline>& pipes, const Accesses& acc, VkQueryPool queries) {
  std::vector<bool> barrier_before(dispatches.size(), false);
  std::vector<Range> pending_reads, pending_writes;
  auto hits = [](const std::vector<Range>& mine, const std::vector<Range>& pending) {
    for (const auto& a : mine)
      for (const auto& b : pending)
        if (a.overlaps(b)) return true;
    return false;
  };
  VkPipeline bound = VK_NULL_HANDLE;
  for (size_t i = 0; i < dispatches.size(); ++i) {
    const Dispatch& d = dispatches[i];
    if (hits(acc.reads[i], pending_writes) || hits(acc.writes[i], pending_writes) ||
        hits(acc.writes[i], pending_reads)) {
      memory_barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
      barrier_before[i] = true;
      pending_reads.clear();
      pending_writes.clear();
    }
    pending_reads.insert(pending_reads.end(), acc.reads[i].begin(), acc.reads[i].end());
    pending_writes.insert(pending_writes.end(), acc.writes[i].begin(), acc.writes[i].end());

    if (pipes[i] != bound) {
      vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipes[i]);
      bound = pipes[i];
    }
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, C.pipeline_layout, 0, 1, &sets[i], 0, nullptr);
    if (d.push_size)
      vkCmdPushConstants(cmd, C.pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, d.push_size, d.push.data());
    if (queries) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries, uint32_t(2 * i));
    vkCmdDispatch(cmd, d.groups[0], d.groups[1], d.groups[2]);
    if (queries) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries, uint32_t(2 * i + 1));
  }
  return barrier_before;
}

}  // namespace

// Arena placement, descriptor sets, pipelines, query pool and command buffer, then the
// recording: every replay submits the same command buffer.
Program Graph::compile() {
  Context::Impl& C = ctx_.impl();
  Program prog;
  prog.impl_ = std::make_unique<Program::Impl>();
  Program::Impl& P = *prog.impl_;
  P.ctx = &C;

  const ArenaPlan arena =
      plan_arena(resources_, dispatches_, std::max<uint64_t>(256, C.caps.min_storage_buffer_offset_alignment));
  P.arena_bytes = arena.bytes;
  P.transient_sum = arena.transient_sum;
  if (P.arena_bytes) P.arena = ctx_.create_buffer(P.arena_bytes);
  if (params_resource_ != UINT32_MAX) {
    P.params_host = C.make_host_buffer(kParamWords * 4);
    std::memset(P.params_host->mapped, 0, kParamWords * 4);
    P.params_device = ctx_.create_buffer(kParamWords * 4);
  }
  auto resolve = [&](const TensorRef& t, const std::string& who) -> Range {
    const Resource& res = resources_[t.resource];
    const Buffer* buf = nullptr;
    uint64_t base = 0;
    switch (res.kind) {
      case Resource::External:
        buf = &res.buffer;
        break;
      case Resource::Transient:
        buf = &P.arena;
        base = arena.offset[t.resource];
        break;
      case Resource::Params:
        buf = &P.params_device;
        break;
    }
    if (t.offset + t.size > res.size) throw GpuError("dispatch '" + who + "' binds past the end of a tensor");
    uint64_t begin = Context::Impl::vk_offset(*buf) + base + t.offset;
    return {Context::Impl::vk_buffer(*buf), begin, begin + t.size};
  };

  const std::vector<VkDescriptorSet> sets = allocate_sets(C, dispatches_.size(), &P.pool);
  const Accesses acc = write_sets(C, dispatches_, sets, resolve);
  std::vector<std::pair<std::string, std::vector<uint32_t>>> wanted;
  wanted.reserve(dispatches_.size());
  for (const Dispatch& d : dispatches_) wanted.emplace_back(d.shader, d.spec);
  C.prepare_pipelines(wanted);  // the missing ones compile in parallel
  std::vector<VkPipeline> pipes(dispatches_.size());
  for (size_t i = 0; i < dispatches_.size(); ++i) pipes[i] = C.pipeline(dispatches_[i].shader, dispatches_[i].spec);

  if (timestamps_ && C.caps.timestamps && !dispatches_.empty()) {
    VkQueryPoolCreateInfo q{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    q.queryType = VK_QUERY_TYPE_TIMESTAMP;
    q.queryCount = uint32_t(2 * dispatches_.size());
    VK_CHECK(vkCreateQueryPool(C.device, &q, nullptr, &P.queries));
  }
  VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cai.commandPool = C.command_pool;
  cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cai.commandBufferCount = 1;
  VK_CHECK(vkAllocateCommandBuffers(C.device, &cai, &P.cmd));
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VK_CHECK(vkCreateFence(C.device, &fci, nullptr, &P.fence));

  VkCommandBuffer cmd = P.cmd;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  VK_CHECK(vkBeginCommandBuffer(cmd, &bi));
  if (P.queries) vkCmdResetQueryPool(cmd, P.queries, 0, uint32_t(2 * dispatches_.size()));
  // Work of earlier submissions (uploads, other programs) → this one.
  memory_barrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                 VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                 VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
  if (P.params_host) {
    VkBufferCopy c{0, Context::Impl::vk_offset(P.params_device), kParamWords * 4};
    vkCmdCopyBuffer(cmd, P.params_host->buffer, Context::Impl::vk_buffer(P.params_device), 1, &c);
    memory_barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);
  }
  P.barrier_before = record_dispatches(cmd, C, dispatches_, sets, pipes, acc, P.queries);
  // Results → host reads, downloads and later submissions.
  memory_barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                 VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                 VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_SHADER_READ_BIT);
  if (read_back_.valid()) {
    const Range r = resolve(read_back_, "read_back");
    P.read_back_bytes = r.end - r.begin;
    P.read_back = C.make_host_buffer(P.read_back_bytes);
    VkBufferCopy c{r.begin, 0, P.read_back_bytes};
    vkCmdCopyBuffer(cmd, r.buffer, P.read_back->buffer, 1, &c);
    memory_barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                   VK_ACCESS_HOST_READ_BIT);
  }
  VK_CHECK(vkEndCommandBuffer(cmd));

  P.dispatches = std::move(dispatches_);
  for (auto& d : P.dispatches) d.bindings.clear();
  return prog;
}

Program::Program() = default;
Program::~Program() = default;
Program::Program(Program&&) noexcept = default;
Program& Program::operator=(Program&&) noexcept = default;

void Program::run() {
  submit();
  wait();
}

void Program::submit() {
  if (!impl_) throw GpuError("Program::submit on an empty program");
  if (impl_->in_flight) throw GpuError("Program::submit: the program's last submit was not waited for");
  impl_->ctx->submit(impl_->cmd, impl_->fence);
  impl_->in_flight = true;
}

void Program::wait() {
  if (!impl_ || !impl_->in_flight) throw GpuError("Program::wait: nothing was submitted");
  impl_->in_flight = false;  // the fence is waited for (and reset) or the device is lost
  impl_->ctx->wait(impl_->fence);
  impl_->ran = true;
}

std::span<uint32_t> Program::params() {
  if (!impl_ || !impl_->params_host) throw GpuError("Program::params: the graph never used Graph::params()");
  return {static_cast<uint32_t*>(impl_->params_host->mapped), Graph::kParamWords};
}

std::span<const uint8_t> Program::read_back() const {
  if (!impl_ || !impl_->read_back) throw GpuError("Program::read_back: the graph asked for no read-back");
  return {static_cast<const uint8_t*>(impl_->read_back->mapped), impl_->read_back_bytes};
}

size_t Program::dispatch_count() const { return impl_ ? impl_->dispatches.size() : 0; }
size_t Program::barrier_count() const {
  return impl_ ? size_t(std::count(impl_->barrier_before.begin(), impl_->barrier_before.end(), true)) : 0;
}
bool Program::barrier_before(size_t i) const { return impl_->barrier_before.at(i); }
uint64_t Program::arena_bytes() const { return impl_ ? impl_->arena_bytes : 0; }
uint64_t Program::transient_bytes_sum() const { return impl_ ? impl_->transient_sum : 0; }

std::vector<DispatchTiming> Program::timings() const {
  std::vector<DispatchTiming> out;
  if (!impl_ || !impl_->queries || !impl_->ran) return out;
  const auto& C = *impl_->ctx;
  const size_t n = impl_->dispatches.size();
  std::vector<uint64_t> ts(2 * n);
  VK_CHECK(vkGetQueryPoolResults(C.device, impl_->queries, 0, uint32_t(2 * n), ts.size() * 8, ts.data(), 8,
                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
  const uint64_t mask = C.caps.timestamp_valid_bits >= 64 ? ~0ull : ((1ull << C.caps.timestamp_valid_bits) - 1);
  for (size_t i = 0; i < n; ++i) {
    const auto& d = impl_->dispatches[i];
    double ns = double((ts[2 * i + 1] - ts[2 * i]) & mask) * C.caps.timestamp_period_ns;
    out.push_back({d.name, d.op, d.shader, d.groups, d.flops, d.bytes, ns});
  }
  return out;
}

}  // namespace smolvk
