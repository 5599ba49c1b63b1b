#include "model/ops/embedding.h"

#include <algorithm>
#include <stdexcept>

#include "model/ops/matmul_split.h"

namespace smolvk::ops {
namespace {
struct EmbedPush {
  uint32_t T, H, vocab, v_begin, v_end, table_off, ids_off, out_off;
};
}  // namespace

void embedding(Graph& g, const Tensor& ids, const Tensor& table, const Tensor& out, std::string name,
               uint64_t max_chunk_bytes) {
  if (name.empty()) name = "embedding";
  const std::string who = "embedding '" + name + "'";
  auto fail = [&](const std::string& why) {
    std::string s = who + ": " + why + " (ids " + std::string(dtype_name(ids.dtype)) + " of " +
                    std::to_string(ids.numel()) + ", table " + std::string(dtype_name(table.dtype));
    for (int64_t d : table.shape) s += " " + std::to_string(d);
    throw std::invalid_argument(s + ", out " + std::string(dtype_name(out.dtype)) + " of " +
                                std::to_string(out.numel()) + ")");
  };
  if (ids.dtype != DType::I32) fail("ids must be i32");
  if (table.shape.size() != 2) fail("table must be [V, H]");
  if (table.dtype != DType::F32 && table.dtype != DType::F16 && table.dtype != DType::BF16)
    fail("table must be f32, f16 or bf16");
  if (out.dtype != DType::F32 || out.shape.empty()) fail("out must be f32");
  const int64_t T = ids.numel(), V = table.dim(0), H = table.dim(1);
  if (T <= 0 || V <= 0 || H <= 0) fail("empty dimension");
  if (out.dim(-1) != H || out.numel() != T * H) fail("out must be [T, H]");
  if (uint64_t(T) * uint64_t(H) >= (1ull << 32) || uint64_t(V) >= (1ull << 31))
    fail("too many elements for 32-bit indexing");
  for (const Tensor* t : {&ids, &table, &out})
    if (!t->ref.valid() || t->ref.size < t->bytes()) fail("a tensor's buffer range is smaller than its shape");

  const Capabilities& caps = g.context().caps();
  const uint64_t align = std::max<uint64_t>(1, caps.min_storage_buffer_offset_alignment);
  uint64_t limit = std::min<uint64_t>(caps.max_storage_buffer_range, 0xffffffffull);
  if (max_chunk_bytes) limit = std::min(limit, max_chunk_bytes);
  const uint64_t es = dtype_size(table.dtype), row = uint64_t(H) * es;
  const AlignedBinding ib = bind_aligned(ids.ref, 0, ids.bytes(), align, 4, who);
  const AlignedBinding ob = bind_aligned(out.ref, 0, out.bytes(), align, 4, who);
  const uint32_t wg = std::min<uint32_t>(64, std::max<uint32_t>(caps.max_workgroup_invocations, 1));

  for (int64_t v0 = 0; v0 < V;) {
    const int64_t vc =
        int64_t(rows_per_binding(table.ref.offset + uint64_t(v0) * row, row, uint64_t(V - v0), limit, align, who));
    const AlignedBinding tb = bind_aligned(table.ref, uint64_t(v0) * row, uint64_t(vc) * row, align, es, who);
    Dispatch d{
        .name = name, .op = "embedding", .shader = "embed_" + std::string(dtype_name(table.dtype)), .spec = {wg}};
    // Chunks write disjoint rows of out, but each binds all of it.
    d.bindings = {{ib.ref, Access::Read}, {tb.ref, Access::Read}, {ob.ref, Access::Write}};
    d.set_push(EmbedPush{uint32_t(T), uint32_t(H), uint32_t(V), uint32_t(v0), uint32_t(v0 + vc), tb.elem_offset,
                         ib.elem_offset, ob.elem_offset});
    d.groups = grid_1d(ceil_div(uint64_t(T * H), wg));
    d.bytes = double(T) * 4 + double(T * H) * (4.0 + double(es)) / double(V) * double(vc);
    g.add(std::move(d));
    v0 += vc;
  }
}

void check_token_ids(std::span<const int32_t> ids, int64_t vocab) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      throw std::out_of_range("token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                              " is outside the vocabulary of " + std::to_string(vocab) + " ids [0, " +
                              std::to_string(vocab) + ")");
}

}  // namespace smolvk::ops
