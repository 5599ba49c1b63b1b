#include "model/ops/op_list.h"

#include <stdexcept>

#include "model/ops/activation.h"
#include "model/ops/embedding.h"
#include "model/ops/matmul.h"
#include "model/ops/mlp.h"
#include "model/ops/norm.h"
#include "model/ops/patch_embed.h"
#include "model/ops/pixel_unshuffle.h"
#include "model/ops/rope.h"
#include "model/ops/splice.h"

namespace smolvk::ops {
namespace {

bool same(const Tensor& a, const Tensor& b) {
  return a.ref.resource == b.ref.resource && a.ref.offset == b.ref.offset && a.ref.size == b.ref.size;
}
bool overlaps(const Tensor& a, const Tensor& b) {
  return a.ref.resource == b.ref.resource && a.ref.offset < b.ref.offset + b.ref.size &&
         b.ref.offset < a.ref.offset + a.ref.size;
}

// The tensors an op reads and the ones it writes (an accumulating linear reads y too).
struct Access {
  std::vector<const Tensor*> reads, writes;
};
Access access(const OpList::Op& op) {
  struct V {
    Access operator()(const OpList::RmsNorm& o) const { return {{&o.x, &o.w}, {&o.out}}; }
    Access operator()(const OpList::Linear& o) const {
      Access a{{&o.x, &o.w}, {&o.y}};
      if (o.accumulate) a.reads.push_back(&o.y);
      if (o.bias) a.reads.push_back(&*o.bias);
      return a;
    }
    Access operator()(const OpList::Gelu& o) const { return {{&o.x}, {&o.out}}; }
    Access operator()(const OpList::Swiglu& o) const { return {{&o.gate_up}, {&o.out}}; }
    Access operator()(const OpList::Rope& o) const {
      return {{&o.qkv, &o.positions, &o.table, &o.k, &o.v}, {&o.q, &o.k, &o.v}};
    }
    Access operator()(const OpList::Attention& o) const { return {{&o.q, &o.k, &o.v, &o.kv_start}, {&o.out}}; }
    Access operator()(const OpList::Plain& o) const {
      Access a;
      for (const auto& t : o.reads) a.reads.push_back(&t);
      for (const auto& t : o.writes) a.writes.push_back(&t);
      return a;
    }
  };
  return std::visit(V{}, op);
}

// "text.L3.gate_up_proj" → "text.L3.mlp"
std::string block_name(const std::string& name, const std::string& block) {
  const size_t dot = name.rfind('.');
  return (dot == std::string::npos ? std::string() : name.substr(0, dot + 1)) + block;
}

}  // namespace

void OpList::embedding(const Tensor& ids, const Tensor& table, const Tensor& out, const std::string& name) {
  ops_.push_back(Plain{{ids, table}, {out}, [name](Graph& g, const auto& r, const auto& w) {
                         ops::embedding(g, r[0], r[1], w[0], name);
                       }});
}

void OpList::splice(const Tensor& h, const Tensor& image_rows, const Tensor& targets, const std::string& name) {
  ops_.push_back(Plain{{image_rows, targets}, {h}, [name](Graph& g, const auto& r, const auto& w) {
                         ops::splice(g, w[0], r[0], r[1], name);
                       }});
}

void OpList::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out, const std::string& name) {
  ops_.push_back(RmsNorm{x, weight, out, eps, name});
}

void OpList::linear(const Tensor& x, const Tensor& w, const Tensor& y, const std::string& name, bool accumulate,
                    const Tensor* bias) {
  ops_.push_back(Linear{x, w, y, accumulate, name, bias ? std::optional<Tensor>(*bias) : std::nullopt});
}

void OpList::gelu(const Tensor& x, const Tensor& out, const std::string& name) { ops_.push_back(Gelu{x, out, name}); }

void OpList::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps, const Tensor& out,
                        const std::string& name) {
  ops_.push_back(Plain{{x, weight, bias}, {out}, [eps, name](Graph& g, const auto& r, const auto& w) {
                         ops::layer_norm(g, r[0], r[1], r[2], w[0], eps, name);
                       }});
}

void OpList::im2col(const Tensor& pixels, const Tensor& patches, int patch, const std::string& name,
                    const Tensor* lut) {
  if (lut) {
    ops_.push_back(Plain{{pixels, *lut}, {patches}, [patch, name](Graph& g, const auto& r, const auto& w) {
                           ops::im2col(g, r[0], w[0], patch, name, &r[1]);
                         }});
    return;
  }
  ops_.push_back(Plain{{pixels}, {patches}, [patch, name](Graph& g, const auto& r, const auto& w) {
                         ops::im2col(g, r[0], w[0], patch, name);
                       }});
}

void OpList::add_position_embedding(const Tensor& h, const Tensor& table, const Tensor& ids, const std::string& name) {
  ops_.push_back(Plain{{h, table, ids}, {h}, [name](Graph& g, const auto& r, const auto&) {
                         ops::add_position_embedding(g, r[0], r[1], r[2], name);
                       }});
}

void OpList::attention_encoder(const Tensor& qkv, int64_t q_col, int64_t k_col, int64_t v_col, const Tensor& key_mask,
                               const Tensor& out, const std::string& name, float scale) {
  ops_.push_back(Plain{{qkv, key_mask}, {out}, [=](Graph& g, const auto& r, const auto& w) {
                         ops::attention_encoder(g, {r[0], q_col}, {r[0], k_col}, {r[0], v_col}, r[1], w[0],
                                                {.scale = scale, .name = name});
                       }});
}

void OpList::pixel_unshuffle(const Tensor& x, const Tensor& y, int scale, const std::string& name) {
  ops_.push_back(Plain{{x}, {y}, [scale, name](Graph& g, const auto& r, const auto& w) {
                         ops::pixel_unshuffle(g, r[0], w[0], scale, name);
                       }});
}

void OpList::swiglu(const Tensor& gate_up, const Tensor& out, const std::string& name) {
  ops_.push_back(Swiglu{gate_up, out, name});
}

void OpList::rope_qkv_write(const Tensor& qkv, const Tensor& positions, const Tensor& table, const Tensor& q,
                            const Tensor& k_cache, const Tensor& v_cache, const std::string& name) {
  ops_.push_back(Rope{qkv, positions, table, q, k_cache, v_cache, name});
}

void OpList::attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, const Tensor& kv_start,
                       const Tensor& out, const DeviceValue& pos0, const std::string& name) {
  ops_.push_back(Attention{q, k_cache, v_cache, kv_start, out, pos0, name});
}

void OpList::argmax(const Tensor& logits, const Tensor& ids, const std::string& name) {
  ops_.push_back(
      Plain{{logits}, {ids}, [name](Graph& g, const auto& r, const auto& w) { ops::argmax(g, r[0], w[0], name); }});
}

void OpList::sample(const Tensor& logits, const Tensor& ids, const SamplingParams& params, const DeviceValue& step,
                    const std::string& name) {
  ops_.push_back(Plain{{logits}, {ids}, [=](Graph& g, const auto& r, const auto& w) {
                         std::visit([&](const auto& s) { ops::sample(g, r[0], w[0], params, s, name); }, step);
                       }});
}

void OpList::sample_row(const Tensor& logits, const Tensor& ids, int64_t row, const SamplingParams& params,
                        const ParamWord& step, const std::string& name) {
  ops_.push_back(Plain{{logits}, {ids}, [=](Graph& g, const auto& r, const auto& w) {
                         ops::sample_row(g, r[0], w[0], row, params, step, name);
                       }});
}

bool OpList::dead_after(size_t i, const Tensor& t) const {
  if (!g_.is_transient(t.ref)) return false;
  for (size_t k = i + 1; k < ops_.size(); ++k) {
    const Access a = access(ops_[k]);
    for (const Tensor* r : a.reads)
      if (overlaps(*r, t)) return false;
    for (const Tensor* w : a.writes)
      if (same(*w, t)) return true;
  }
  return true;
}

bool OpList::fits_mlp_decode(int64_t rows) const {
  return fits_matvec(rows) && rows <= int64_t(policy_.mlp_decode_max_rows) &&
         mlp_decode_available(g_.context().caps(), rows);
}

Tensor OpList::other_residual(const Tensor& h) {
  if (residual_other_.ref.valid() && same(h, residual_other_)) return residual_main_;
  if (!residual_main_.ref.valid() || !same(h, residual_main_)) {
    residual_main_ = h;
    residual_other_ = transient(g_, h.dtype, h.shape, "text.h_other");
  }
  return residual_other_;
}

void OpList::swap_from(size_t from, const Tensor& a, const Tensor& b) {
  auto swap_one = [&](Tensor& t) {
    if (same(t, a))
      t.ref = b.ref;
    else if (same(t, b))
      t.ref = a.ref;
  };
  for (size_t k = from; k < ops_.size(); ++k) {
    std::visit(
        [&](auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, RmsNorm>) {
            swap_one(o.x);
            swap_one(o.out);
          } else if constexpr (std::is_same_v<T, Linear>) {
            swap_one(o.x);
            swap_one(o.y);
          } else if constexpr (std::is_same_v<T, Gelu>) {
            swap_one(o.x);
            swap_one(o.out);
          } else if constexpr (std::is_same_v<T, Swiglu>) {
            swap_one(o.gate_up);
            swap_one(o.out);
          } else if constexpr (std::is_same_v<T, Rope>) {
            swap_one(o.qkv);
          } else if constexpr (std::is_same_v<T, Attention>) {
            swap_one(o.q);
            swap_one(o.out);
          } else {
            for (auto& t : o.reads) swap_one(t);
            for (auto& t : o.writes) swap_one(t);
          }
        },
        ops_[k]);
  }
}

// attention → linear(o, += h) → rms_norm(h) → linear(gate_up) → swiglu → linear(down, += h),
// one decode token per row: attention applies o_proj into h (atomics) and zeroes h_other;
// the MLP writes h + MLP(h) into h_other, which is h from then on.
size_t OpList::try_decode_block(size_t i) {
  if (i + 5 >= ops_.size() || !policy_.fold_o_proj) return 0;
  const auto* at = std::get_if<Attention>(&ops_[i]);
  const auto* o = std::get_if<Linear>(&ops_[i + 1]);
  if (!at || !o || o->bias || at->q.shape.size() != 4 || at->q.dim(1) != 1 || !same(o->x, at->out) ||
      !dead_after(i + 1, at->out) || o->w.bytes() > uint64_t(policy_.fold_o_proj_max_kib) * 1024)
    return 0;
  if (!is_mlp_block(i + 1)) return 0;
  const auto& norm = std::get<RmsNorm>(ops_[i + 2]);
  const auto& gate_up = std::get<Linear>(ops_[i + 3]);
  const auto& down = std::get<Linear>(ops_[i + 5]);
  const Tensor h = o->y;
  const Tensor other = other_residual(h);
  const OutputProjection fold{o->w, h, other};
  if (!attention_decoder(g_, {at->q, 0}, at->k, at->v, at->kv_start, at->out, at->pos0,
                         {.name = at->name, .o_proj = &fold}))
    return 1;  // recorded without o_proj (several key splits): the MLP block is matched next
  mlp_decode(g_, h, norm.w, norm.eps, gate_up.w, down.w, other, block_name(gate_up.name, "mlp"), true);
  swap_from(i + 6, h, other);
  return 6;
}

// linear(o, += h) → rms_norm(h) → linear(gate_up) → swiglu → linear(down, += h)
bool OpList::is_mlp_block(size_t i) const {
  if (i + 4 >= ops_.size()) return false;
  const auto* o = std::get_if<Linear>(&ops_[i]);
  const auto* norm = std::get_if<RmsNorm>(&ops_[i + 1]);
  const auto* gate_up = std::get_if<Linear>(&ops_[i + 2]);
  const auto* act = std::get_if<Swiglu>(&ops_[i + 3]);
  const auto* down = std::get_if<Linear>(&ops_[i + 4]);
  if (!o || !norm || !gate_up || !act || !down || o->bias || gate_up->bias || down->bias) return false;
  const Tensor& h = o->y;
  return o->accumulate && down->accumulate && !gate_up->accumulate && same(norm->x, h) && same(down->y, h) &&
         same(gate_up->x, norm->out) && same(act->gate_up, gate_up->y) && same(down->x, act->out) &&
         h.shape.size() == 2 && fits_mlp_decode(h.rows()) && norm->w.dtype == gate_up->w.dtype &&
         down->w.dtype == gate_up->w.dtype && dead_after(i + 4, norm->out) && dead_after(i + 4, gate_up->y) &&
         dead_after(i + 4, act->out);
}

// The same block where attention cannot take o_proj: o_proj leaves a copy of h that the
// one-dispatch MLP reads while it adds its output into h.
size_t OpList::try_mlp_block(size_t i) {
  if (!is_mlp_block(i)) return 0;
  const auto& o = std::get<Linear>(ops_[i]);
  const auto& norm = std::get<RmsNorm>(ops_[i + 1]);
  const auto& gate_up = std::get<Linear>(ops_[i + 2]);
  const auto& down = std::get<Linear>(ops_[i + 4]);
  if (!residual_copy_.ref.valid() || residual_copy_.shape != o.y.shape)
    residual_copy_ = transient(g_, o.y.dtype, o.y.shape, "text.h_snapshot");
  matmul(g_, o.x, o.w, nullptr, o.y,
         {.accumulate = true, .name = o.name, .policy = &policy_, .y_copy = &residual_copy_});
  mlp_decode(g_, residual_copy_, norm.w, norm.eps, gate_up.w, down.w, o.y, block_name(gate_up.name, "mlp"));
  return 5;
}

size_t OpList::try_norm_qkv_rope(size_t i) {
  if (i + 2 >= ops_.size()) return 0;
  const auto* n = std::get_if<RmsNorm>(&ops_[i]);
  const auto* l = std::get_if<Linear>(&ops_[i + 1]);
  const auto* r = std::get_if<Rope>(&ops_[i + 2]);
  if (!n || !l || !r || l->accumulate || l->bias || !same(l->x, n->out) || !same(r->qkv, l->y) ||
      !fits_matvec(n->x.rows()) || n->w.dtype != l->w.dtype || !dead_after(i + 2, n->out) || !dead_after(i + 2, l->y))
    return 0;
  matmul_rope_qkv(g_, n->x, l->w, {r->positions, r->table, r->q, r->k, r->v},
                  {.name = l->name, .norm_weight = &n->w, .norm_eps = n->eps});
  return 3;
}

size_t OpList::try_norm_linear(size_t i) {
  if (i + 1 >= ops_.size()) return 0;
  const auto* n = std::get_if<RmsNorm>(&ops_[i]);
  const auto* l = std::get_if<Linear>(&ops_[i + 1]);
  if (!n || !l || l->bias || !same(l->x, n->out) || !fits_matvec(n->x.rows()) || n->w.dtype != l->w.dtype ||
      !dead_after(i + 1, n->out))
    return 0;
  matmul(g_, n->x, l->w, nullptr, l->y,
         {.accumulate = l->accumulate, .name = l->name, .norm_weight = &n->w, .norm_eps = n->eps, .policy = &policy_});
  return 2;
}

bool OpList::tensor_core_rows(int64_t rows, const Tensor& w) const {
  // Rows the batched mat-vec takes (policy vec_batch_max_rows, for weights like w) leave the
  // plain linears to it.
  if (rows > int64_t(policy_.fuse_matvec_max_rows) && rows <= int64_t(policy_.vec_batch_max_rows) &&
      vec_batch_weight(policy_, w.bytes(), uint64_t(w.dim(1))) && !policy_.emulate_tensor_cores)
    return false;
  return policy_.fuse_gemm_inputs && (g_.context().caps().use_coopmat || policy_.emulate_tensor_cores) &&
         rows >= int64_t(policy_.coopmat_min_rows);
}

const OpList::RmsNorm* OpList::then_norm_at(size_t j, const Linear& l) const {
  if (j >= ops_.size()) return nullptr;
  const auto* n = std::get_if<RmsNorm>(&ops_[j]);
  const int64_t rows = l.y.rows();
  if (!n || !same(n->x, l.y) || fits_matvec(rows) || !tensor_core_rows(rows, l.w) || n->w.dtype != l.w.dtype ||
      l.y.dtype != DType::F32 || l.y.dim(-1) != l.w.dim(0) || n->out.dtype != DType::F32)
    return nullptr;
  return n;
}

size_t OpList::try_swiglu_linear(size_t i) {
  if (i + 1 >= ops_.size()) return 0;
  const auto* s = std::get_if<Swiglu>(&ops_[i]);
  const auto* l = std::get_if<Linear>(&ops_[i + 1]);
  if (!s || !l || l->bias || !same(l->x, s->out) || !dead_after(i + 1, s->out)) return 0;
  const int64_t rows = s->out.rows();
  if (fits_matvec(rows)) {
    matmul(g_, s->gate_up, l->w, nullptr, l->y,
           {.accumulate = l->accumulate, .name = l->name, .swiglu_input = true, .policy = &policy_});
    return 2;
  }
  // An f16 SwiGLU output is the f16-X GEMM's input (tensor_core_gemm_input_dtype): faster than
  // reading gate|up in f32 in every column block.
  if (!tensor_core_rows(rows, l->w) || s->gate_up.dtype != DType::F32 || s->out.dtype != DType::F32) return 0;
  // The down projection on tensor cores reading gate|up, and the next layer's norm with it.
  const RmsNorm* n = then_norm_at(i + 2, *l);
  matmul(g_, s->gate_up, l->w, nullptr, l->y,
         {.accumulate = l->accumulate,
          .name = l->name,
          .emulate_coopmat = policy_.emulate_tensor_cores,
          .swiglu_input = true,
          .then_norm_weight = n ? &n->w : nullptr,
          .then_norm_out = n ? &n->out : nullptr,
          .then_norm_eps = n ? n->eps : 1e-6f,
          .then_norm_name = n ? n->name : std::string(),
          .policy = &policy_});
  return n ? 3 : 2;
}

size_t OpList::try_linear_norm(size_t i) {
  const auto* l = std::get_if<Linear>(&ops_[i]);
  const RmsNorm* n = l ? then_norm_at(i + 1, *l) : nullptr;
  if (!n) return 0;
  matmul(g_, l->x, l->w, l->bias ? &*l->bias : nullptr, l->y,
         {.accumulate = l->accumulate,
          .name = l->name,
          .emulate_coopmat = policy_.emulate_tensor_cores,
          .then_norm_weight = &n->w,
          .then_norm_out = &n->out,
          .then_norm_eps = n->eps,
          .then_norm_name = n->name,
          .policy = &policy_});
  return 2;
}

// linear(+ bias) → gelu: GELU in the GEMM's epilogue, on the un-rounded sum (the unfused
// path rounds the linear's output to y's dtype first).
size_t OpList::try_linear_gelu(size_t i) {
  if (i + 1 >= ops_.size() || !policy_.fuse_linear_gelu) return 0;
  const auto* l = std::get_if<Linear>(&ops_[i]);
  const auto* a = std::get_if<Gelu>(&ops_[i + 1]);
  if (!l || !a || l->accumulate || !same(a->x, l->y) || !dead_after(i + 1, l->y)) return 0;
  matmul(g_, l->x, l->w, l->bias ? &*l->bias : nullptr, a->out,
         {.gelu = true, .name = l->name, .emulate_coopmat = policy_.emulate_tensor_cores, .policy = &policy_});
  return 2;
}

void OpList::record_one(const Op& op) {
  struct V {
    Graph& g;
    const KernelPolicy& policy;
    void operator()(const RmsNorm& o) const { ops::rms_norm(g, o.x, o.w, o.out, o.eps, o.name); }
    void operator()(const Linear& o) const {
      matmul(g, o.x, o.w, o.bias ? &*o.bias : nullptr, o.y,
             {.accumulate = o.accumulate,
              .name = o.name,
              .emulate_coopmat = policy.emulate_tensor_cores,
              .policy = &policy});
    }
    void operator()(const Gelu& o) const { gelu_tanh(g, o.x, o.out, o.name); }
    void operator()(const Swiglu& o) const { ops::swiglu(g, o.gate_up, o.out, o.name); }
    void operator()(const Rope& o) const { ops::rope_qkv_write(g, o.qkv, o.positions, o.table, o.q, o.k, o.v, o.name); }
    void operator()(const Attention& o) const {
      attention_decoder(g, {o.q, 0}, o.k, o.v, o.kv_start, o.out, o.pos0, {.name = o.name});
    }
    void operator()(const Plain& o) const { o.record(g, o.reads, o.writes); }
  };
  std::visit(V{g_, policy_}, op);
}

void OpList::lower() {
  using Try = size_t (OpList::*)(size_t);
  static constexpr Try kFusions[] = {&OpList::try_decode_block, &OpList::try_mlp_block,     &OpList::try_norm_qkv_rope,
                                     &OpList::try_norm_linear,  &OpList::try_swiglu_linear, &OpList::try_linear_gelu,
                                     &OpList::try_linear_norm};
  for (size_t i = 0; i < ops_.size();) {
    size_t n = 0;
    for (Try f : kFusions)
      if ((n = (this->*f)(i))) break;
    if (!n) {
      record_one(ops_[i]);
      n = 1;
    }
    i += n;
  }
  ops_.clear();
}

}  // namespace smolvk::ops
