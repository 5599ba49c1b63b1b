#include "model/ops/rope.h"

#include <cmath>
#include <stdexcept>

namespace smolvk::ops {
namespace {
constexpr uint32_t kWorkgroup = 64;

struct RopePush {
  uint32_t rows, heads, half_d, table_rows;
  uint32_t T = 0, Hq = 0, Hkv = 0, C = 0;
};

// The table must be f32 [P, D/2, 2]; returns P.
int64_t table_rows(const Tensor& table, int64_t D, const std::string& op) {
  expect(table.dtype == DType::F32 && table.shape.size() == 3 && table.shape[1] == D / 2 && table.shape[2] == 2, op,
         "table must be f32 [P, " + std::to_string(D / 2) + ", 2] for head_dim " + std::to_string(D) + ", got " +
             shape_str(table));
  expect(table.shape[0] > 0, op, "table has no positions");
  return table.shape[0];
}
}  // namespace

std::vector<float> rope_inv_freq(int head_dim, double theta, const RopeScaling* scaling) {
  if (head_dim <= 0 || head_dim % 2)
    throw std::invalid_argument("rope_inv_freq: head_dim must be positive and even, got " + std::to_string(head_dim));
  if (!(theta > 0) || !std::isfinite(theta))
    throw std::invalid_argument("rope_inv_freq: rope_theta must be positive, got " + std::to_string(theta));
  // transformers: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32.
  const float base = float(theta);
  std::vector<float> inv(size_t(head_dim / 2));
  for (int i = 0; i < head_dim / 2; ++i) {
    const float e = float(2 * i) / float(head_dim);
    inv[i] = 1.0f / float(std::pow(double(base), double(e)));
  }
  if (!scaling || scaling->kind == RopeKind::Default) return inv;
  const float factor = float(scaling->factor);
  if (!(scaling->factor > 0))
    throw std::invalid_argument("rope_scaling.factor must be positive, got " + std::to_string(scaling->factor));
  if (scaling->kind == RopeKind::Linear) {
    for (float& f : inv) f /= factor;
    return inv;
  }
  // llama3 (_compute_llama3_parameters). Scalars meet float32 tensors, so each step rounds to
  // float32; `scalar / tensor` is reciprocal(tensor) · scalar in torch.
  const double low = scaling->low_freq_factor, high = scaling->high_freq_factor;
  const double old_len = double(scaling->original_max_position_embeddings);
  if (!(high > low) || !(old_len > 0))
    throw std::invalid_argument(
        "rope_scaling (llama3): need high_freq_factor > low_freq_factor and "
        "original_max_position_embeddings > 0, got " +
        std::to_string(high) + ", " + std::to_string(low) + ", " + std::to_string(old_len));
  const float low_wavelen = float(old_len / low), high_wavelen = float(old_len / high);
  const float two_pi = float(2.0 * M_PI);
  for (float& f : inv) {
    const float wavelen = (1.0f / f) * two_pi;
    float g = wavelen > low_wavelen ? f / factor : f;
    if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
      const float smooth = ((1.0f / wavelen) * float(old_len) - float(low)) / float(high - low);
      const float a = (1.0f - smooth) * g / factor;
      const float b = smooth * g;
      g = a + b;
    }
    f = g;
  }
  return inv;
}

std::vector<float> rope_table(int64_t positions, int head_dim, double theta, const RopeScaling* scaling) {
  if (positions <= 0)
    throw std::invalid_argument("rope_table: positions must be positive, got " + std::to_string(positions));
  const std::vector<float> inv = rope_inv_freq(head_dim, theta, scaling);
  const size_t half = inv.size();
  std::vector<float> table(size_t(positions) * half * 2);
  for (int64_t p = 0; p < positions; ++p)
    for (size_t i = 0; i < half; ++i) {
      const float angle = float(p) * inv[i];
      table[(size_t(p) * half + i) * 2] = float(std::cos(double(angle)));
      table[(size_t(p) * half + i) * 2 + 1] = float(std::sin(double(angle)));
    }
  return table;
}

RopeQkvShape check_rope_qkv(const Tensor& q_out, const Tensor& positions, const Tensor& table, const Tensor& k_cache,
                            const Tensor& v_cache, const std::string& op) {
  expect(q_out.dtype == DType::F32 && q_out.shape.size() == 4, op,
         "q_out must be f32 [B, T, Hq, D], got " + shape_str(q_out));
  expect_kv_cache(k_cache, v_cache, op);
  RopeQkvShape r{q_out.shape[0], q_out.shape[1], q_out.shape[2], k_cache.shape[1], k_cache.shape[2], q_out.shape[3], 0};
  expect(r.B > 0 && r.T > 0 && r.Hq > 0 && r.Hkv > 0 && r.C > 0 && r.D > 0, op,
         "empty dimension in q_out " + shape_str(q_out) + " or caches " + shape_str(k_cache));
  expect(r.D % 2 == 0, op, "head_dim must be even, got " + std::to_string(r.D));
  expect(k_cache.shape[0] == r.B && k_cache.shape[3] == r.D, op,
         "caches " + shape_str(k_cache) + " do not match q_out " + shape_str(q_out) + " (expected [" +
             std::to_string(r.B) + ", Hkv, C, " + std::to_string(r.D) + "])");
  expect(positions.dtype == DType::I32 && positions.numel() == r.B * r.T, op,
         "positions must be i32 with " + std::to_string(r.B * r.T) + " elements, got " + shape_str(positions));
  r.P = table_rows(table, r.D, op);
  check_u32(k_cache.numel(), op, "k_cache");
  return r;
}

void rope_qkv_write(Graph& g, const Tensor& qkv, const Tensor& positions, const Tensor& table, const Tensor& q_out,
                    const Tensor& k_cache, const Tensor& v_cache, const std::string& name) {
  const std::string op = "rope_qkv_write";
  const RopeQkvShape r = check_rope_qkv(q_out, positions, table, k_cache, v_cache, op);
  const int64_t B = r.B, T = r.T, Hq = r.Hq, Hkv = r.Hkv, C = r.C, D = r.D, P = r.P;
  const int64_t heads = Hq + 2 * Hkv;
  expect(qkv.dtype == DType::F32 && qkv.shape.size() == 2 && qkv.shape[0] == B * T && qkv.shape[1] == heads * D, op,
         "qkv must be f32 [" + std::to_string(B * T) + ", " + std::to_string(heads * D) +
             "] (B·T, (Hq + 2·Hkv)·D), got " + shape_str(qkv));
  check_u32(qkv.numel(), op, "qkv");

  const uint64_t threads = uint64_t(B * T) * heads * (D / 2);
  Dispatch d{.name = name, .op = "rope", .shader = "rope_qkv", .spec = {kWorkgroup}};
  d.bindings = {{qkv.ref, Access::Read},    {positions.ref, Access::Read}, {table.ref, Access::Read},
                {q_out.ref, Access::Write}, {k_cache.ref, Access::Write},  {v_cache.ref, Access::Write}};
  d.set_push(RopePush{uint32_t(B * T), uint32_t(heads), uint32_t(D / 2), uint32_t(P), uint32_t(T), uint32_t(Hq),
                      uint32_t(Hkv), uint32_t(C)});
  d.groups = grid_1d(ceil_div(threads, kWorkgroup));
  d.flops = 6.0 * double(B * T) * double(Hq + Hkv) * double(D / 2);
  d.bytes = 2.0 * double(qkv.bytes()) + double(B * T) * (4.0 + 4.0 * double(D));
  g.add(std::move(d));
}

void rope_inplace(Graph& g, const Tensor& x, const Tensor& positions, const Tensor& table, const std::string& name) {
  const std::string op = "rope_inplace";
  expect(x.dtype == DType::F32 && x.shape.size() == 3, op, "x must be f32 [rows, H, D], got " + shape_str(x));
  const int64_t rows = x.shape[0], H = x.shape[1], D = x.shape[2];
  expect(rows > 0 && H > 0 && D > 0 && D % 2 == 0, op,
         "x needs non-empty dims and an even head_dim, got " + shape_str(x));
  expect(positions.dtype == DType::I32 && positions.numel() == rows, op,
         "positions must be i32 with " + std::to_string(rows) + " elements, got " + shape_str(positions));
  const int64_t P = table_rows(table, D, op);
  check_u32(x.numel(), op, "x");

  const uint64_t threads = uint64_t(rows) * H * (D / 2);
  Dispatch d{.name = name, .op = "rope", .shader = "rope_inplace", .spec = {kWorkgroup}};
  d.bindings = {{x.ref, Access::ReadWrite}, {positions.ref, Access::Read}, {table.ref, Access::Read}};
  d.set_push(RopePush{uint32_t(rows), uint32_t(H), uint32_t(D / 2), uint32_t(P)});
  d.groups = grid_1d(ceil_div(threads, kWorkgroup));
  d.flops = 6.0 * double(rows) * double(H) * double(D / 2);
  d.bytes = 2.0 * double(x.bytes()) + double(rows) * (4.0 + 4.0 * double(D));
  g.add(std::move(d));
}

}  // namespace smolvk::ops
