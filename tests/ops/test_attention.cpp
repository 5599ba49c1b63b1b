// Flash attention (decoder over the KV cache, encoder with a key mask) against the naive
// double-precision CPU reference. Tolerance (f32): max |Δ| / max |ref| ≤ 1e-5 — the GPU
// accumulates in float32 over ≤ 1100 keys with an online softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "model/ops/attention.h"
#include "model/ops/attention_ref.h"
#include "model/ops/matmul_ref.h"
#include "tests/ops/matmul_test_inputs.h"
#include "tests/ops/op_test_util.h"
#include "tests/test_util.h"

using namespace smolvk;

namespace {
constexpr double kTol = 1e-5;

// Checks the tolerance and logs the error seen (for the per-op error table).
void expect_close(const std::vector<float>& ref, const std::vector<float>& got) {
  const double rel = test::max_rel_error(ref, got), e2 = test::nmse(ref, got);
  std::printf("      max_rel_error %.3g, nmse %.3g\n", rel, e2);
  EXPECT_LE(rel, kTol);
  EXPECT_LE(e2, 1e-10);
}

using test::download;
using test::random_floats;
using test::upload;

struct DecoderCase {
  int64_t B, T, Hq, Hkv, D, C, pos0;
  std::vector<int32_t> kv_start;
  int splits = 0;      // 0 = automatic
  bool fused = false;  // q as the first columns of a fused qkv output
};

// Runs attention_decoder once with a fixed pos0 and returns (reference, GPU) outputs.
std::pair<std::vector<float>, std::vector<float>> run_decoder(const DecoderCase& c) {
  Context& ctx = test::context();
  const int64_t qcols = c.Hq * c.D, stride = c.fused ? (c.Hq + 2 * c.Hkv) * c.D : qcols;
  const int64_t tokens = c.B * c.T;
  const auto qmat = random_floats(size_t(tokens * stride), 1);
  // Every cache row is filled, also those past pos0 + T and before kv_start: masking must
  // ignore them.
  const auto kc = random_floats(size_t(c.B * c.Hkv * c.C * c.D), 2);
  const auto vc = random_floats(size_t(c.B * c.Hkv * c.C * c.D), 3);
  Buffer qb = upload(ctx, qmat), kb = upload(ctx, kc), vb = upload(ctx, vc), sb = upload(ctx, c.kv_start),
         ob = ctx.create_buffer(size_t(tokens * qcols) * 4);
  Graph g(ctx);
  ops::attention_decoder(
      g, {ops::external(g, qb, DType::F32, {tokens, stride}), 0},
      ops::external(g, kb, DType::F32, {c.B, c.Hkv, c.C, c.D}),
      ops::external(g, vb, DType::F32, {c.B, c.Hkv, c.C, c.D}), ops::external(g, sb, DType::I32, {c.B}),
      ops::external(g, ob, DType::F32, {c.B, c.T, c.Hq, c.D}), uint32_t(c.pos0), {.splits = c.splits});
  g.compile().run();

  std::vector<float> q(size_t(tokens * qcols)), ref(q.size());
  for (int64_t r = 0; r < tokens; ++r)
    for (int64_t i = 0; i < qcols; ++i) q[size_t(r * qcols + i)] = qmat[size_t(r * stride + i)];
  ops::attention_decoder_ref(q, kc, vc, c.C, c.kv_start, c.pos0, {c.B, c.T, c.Hq, c.Hkv, c.D},
                             float(1.0 / std::sqrt(double(c.D))), ref);
  return {ref, download(ctx, ob, ref.size())};
}
}  // namespace

class AttentionDecoder : public testing::TestWithParam<DecoderCase> {};

TEST_P(AttentionDecoder, MatchesReference) {
  const auto [ref, got] = run_decoder(GetParam());
  expect_close(ref, got);
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionDecoder,
                         testing::Values(
                             // prefill from an empty cache, GQA ratio 4 with a single kv head, D 20
                             DecoderCase{1, 19, 4, 1, 20, 37, 0, {0}},
                             // second chat turn (pos0 > 0), GQA 3, D 12, left padding in batch row 1, q a column
                             // slice of a fused qkv row
                             DecoderCase{2, 5, 3, 1, 12, 101, 40, {0, 7}, 0, true},
                             // no GQA, D 128, padded keys
                             DecoderCase{1, 5, 2, 2, 128, 37, 13, {3}},
                             // decode of the 256M shape at context 1100: automatic key splits, then one split
                             DecoderCase{1, 1, 9, 3, 64, 1100, 1099, {0}, 0, true},
                             DecoderCase{1, 1, 9, 3, 64, 1100, 1099, {0}, 1, true},
                             // prefill continuing a cache with forced splits (T > 1 through the combine)
                             DecoderCase{2, 5, 4, 1, 64, 101, 50, {2, 0}, 4}));

TEST(AttentionDecoderCases, RowsWithoutValidKeysAreZero) {
  // kv_start 5 with queries at positions 2..6: positions 2–4 see no key.
  const auto [ref, got] = run_decoder({1, 5, 3, 1, 12, 16, 2, {5}});
  const int64_t row = 3 * 12;  // one token = Hq·D values
  for (int64_t i = 0; i < 3 * row; ++i) ASSERT_EQ(got[size_t(i)], 0.0f) << i;
  EXPECT_NE(got[size_t(3 * row)], 0.0f);
  EXPECT_LE(test::max_rel_error(ref, got), kTol);
}

TEST(AttentionDecoderCases, ReplayReadsPositionFromParams) {
  // Recorded once; each replay writes pos0 into the params buffer. Keys split in 3 so that
  // splits past the current length are skipped at run time.
  Context& ctx = test::context();
  // C = 300 keeps 3 splits whatever key tile the device gets (32 or 64 keys).
  const int64_t B = 2, Hq = 4, Hkv = 2, D = 64, C = 300;
  const std::vector<int32_t> kv_start{0, 4};
  const auto kc = random_floats(size_t(B * Hkv * C * D), 7), vc = random_floats(kc.size(), 8);
  Buffer kb = upload(ctx, kc), vb = upload(ctx, vc), sb = upload(ctx, kv_start);
  Buffer qb = ctx.create_buffer(size_t(B * Hq * D) * 4), ob = ctx.create_buffer(size_t(B * Hq * D) * 4);
  Graph g(ctx);
  ops::attention_decoder(g, {ops::external(g, qb, DType::F32, {B, 1, Hq, D}), 0},
                         ops::external(g, kb, DType::F32, {B, Hkv, C, D}),
                         ops::external(g, vb, DType::F32, {B, Hkv, C, D}), ops::external(g, sb, DType::I32, {B}),
                         ops::external(g, ob, DType::F32, {B, 1, Hq, D}), ops::ParamWord{g.params(), 3},
                         {.splits = 3, .name = "text.L0.attn"});
  EXPECT_EQ(g.size(), 2u);  // attention + combine
  Program p = g.compile();
  for (uint32_t pos0 : {10u, 11u, 12u}) {
    const auto q = random_floats(size_t(B * Hq * D), 100 + pos0);
    ctx.upload(qb, q.data(), q.size() * 4);
    p.set_param(3, pos0);
    p.run();
    std::vector<float> ref(q.size());
    ops::attention_decoder_ref(q, kc, vc, C, kv_start, pos0, {B, 1, Hq, Hkv, D}, 0.125f, ref);
    const auto got = download(ctx, ob, ref.size());
    EXPECT_LE(test::max_rel_error(ref, got), kTol) << "pos0 " << pos0;
  }
}

// A decode step of rows at different positions (continuous batching): row b's position is
// params word 8 + b, and it sees keys kv_start[b] ≤ j ≤ its position. Against the reference
// run row by row. G = 2 takes attention_decode.comp; G = 12 (> its 8 rows) attention.comp.
TEST(AttentionDecoderCases, RowsAtTheirOwnPositions) {
  Context& ctx = test::context();
  for (const int64_t Hq : {4, 12}) {
    const int64_t B = 3, Hkv = Hq == 4 ? 2 : 1, D = 32, C = 96;
    const std::vector<int32_t> kv_start{0, 3, 17}, pos{5, 60, 17};
    const auto q = random_floats(size_t(B * Hq * D), 31), kc = random_floats(size_t(B * Hkv * C * D), 32),
               vc = random_floats(size_t(B * Hkv * C * D), 33);
    Buffer qb = upload(ctx, q), kb = upload(ctx, kc), vb = upload(ctx, vc), sb = upload(ctx, kv_start),
           ob = ctx.create_buffer(q.size() * 4);
    Graph g(ctx);
    ops::attention_decoder(g, {ops::external(g, qb, DType::F32, {B, 1, Hq, D}), 0},
                           ops::external(g, kb, DType::F32, {B, Hkv, C, D}),
                           ops::external(g, vb, DType::F32, {B, Hkv, C, D}), ops::external(g, sb, DType::I32, {B}),
                           ops::external(g, ob, DType::F32, {B, 1, Hq, D}),
                           ops::ParamWord{g.params(), 8, /*per_row=*/true, /*bound=*/64}, {.name = "attn"});
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g.dispatches()[0].shader, Hq == 4 ? "attention_decode" : "attention_decoder");
    Program p = g.compile();
    for (int64_t b = 0; b < B; ++b) p.set_param(uint32_t(8 + b), uint32_t(pos[size_t(b)]));
    p.run();
    const auto got = download(ctx, ob, q.size());
    std::vector<float> ref(q.size());
    const size_t qrow = size_t(Hq * D), kvrow = size_t(Hkv * C * D);
    for (int64_t b = 0; b < B; ++b) {
      std::vector<float> r(qrow);
      ops::attention_decoder_ref(
          std::span(q).subspan(size_t(b) * qrow, qrow), std::span(kc).subspan(size_t(b) * kvrow, kvrow),
          std::span(vc).subspan(size_t(b) * kvrow, kvrow), C, std::span(kv_start).subspan(size_t(b), 1), pos[size_t(b)],
          {1, 1, Hq, Hkv, D}, float(1.0 / std::sqrt(double(D))), r);
      std::copy(r.begin(), r.end(), ref.begin() + std::ptrdiff_t(size_t(b) * qrow));
    }
    expect_close(ref, got);
  }
}

TEST(AttentionDecoderCases, PerRowPositionsNeedOneTokenPerRow) {
  Context& ctx = test::context();
  Buffer kb = ctx.create_buffer(2 * 16 * 8 * 4), sb = ctx.create_buffer(8), qb = ctx.create_buffer(2 * 2 * 8 * 4);
  Graph g(ctx);
  EXPECT_THROW(
      ops::attention_decoder(g, {ops::external(g, qb, DType::F32, {2, 2, 1, 8}), 0},
                             ops::external(g, kb, DType::F32, {2, 1, 16, 8}),
                             ops::external(g, kb, DType::F32, {2, 1, 16, 8}), ops::external(g, sb, DType::I32, {2}),
                             ops::external(g, qb, DType::F32, {2, 2, 1, 8}), ops::ParamWord{g.params(), 8, true}),
      std::invalid_argument);
}

TEST(AttentionDecoderCases, CustomScale) {
  Context& ctx = test::context();
  const int64_t Hq = 2, D = 16, C = 9;
  const auto q = random_floats(size_t(Hq * D), 21), kc = random_floats(size_t(C * D), 22),
             vc = random_floats(size_t(C * D), 23);
  const std::vector<int32_t> kv_start{0};
  Buffer qb = upload(ctx, q), kb = upload(ctx, kc), vb = upload(ctx, vc), sb = upload(ctx, kv_start),
         ob = ctx.create_buffer(q.size() * 4);
  Graph g(ctx);
  ops::attention_decoder(g, {ops::external(g, qb, DType::F32, {1, 1, Hq, D}), 0},
                         ops::external(g, kb, DType::F32, {1, 1, C, D}), ops::external(g, vb, DType::F32, {1, 1, C, D}),
                         ops::external(g, sb, DType::I32, {1}), ops::external(g, ob, DType::F32, {1, 1, Hq, D}),
                         uint32_t(8), {.scale = 0.7f});
  g.compile().run();
  std::vector<float> ref(q.size());
  ops::attention_decoder_ref(q, kc, vc, C, kv_start, 8, {1, 1, Hq, 1, D}, 0.7f, ref);
  EXPECT_LE(test::max_rel_error(ref, download(ctx, ob, ref.size())), kTol);
}

struct EncoderCase {
  int64_t N, S, H, D;
  double invalid_fraction;
  bool fused;  // q, k, v as column slices of one [N·S, 3·H·D] qkv output
  int splits = 0;
};

class AttentionEncoder : public testing::TestWithParam<EncoderCase> {};

TEST_P(AttentionEncoder, MatchesReference) {
  const EncoderCase c = GetParam();
  Context& ctx = test::context();
  const int64_t tokens = c.N * c.S, hd = c.H * c.D;
  std::mt19937 rng(31);
  std::bernoulli_distribution invalid(c.invalid_fraction);
  std::vector<int32_t> mask(static_cast<size_t>(tokens));
  for (auto& m : mask) m = invalid(rng) ? 0 : 1;
  for (int64_t n = 0; n < c.N; ++n) mask[size_t(n * c.S)] = 1;  // every tile keeps a key
  int64_t masked = 0;
  for (auto m : mask) masked += m == 0;
  if (c.invalid_fraction > 0) {
    EXPECT_GT(masked, 0);
  }

  std::vector<float> q, k, v;
  Buffer mb = upload(ctx, mask), ob = ctx.create_buffer(size_t(tokens * hd) * 4);
  Graph g(ctx);
  std::vector<Buffer> keep;
  ops::TokenHeads tq, tk, tv;
  if (c.fused) {
    const auto qkv = random_floats(size_t(tokens * 3 * hd), 41);
    q.resize(size_t(tokens * hd)), k.resize(q.size()), v.resize(q.size());
    for (int64_t r = 0; r < tokens; ++r)
      for (int64_t i = 0; i < hd; ++i) {
        q[size_t(r * hd + i)] = qkv[size_t(r * 3 * hd + i)];
        k[size_t(r * hd + i)] = qkv[size_t(r * 3 * hd + hd + i)];
        v[size_t(r * hd + i)] = qkv[size_t(r * 3 * hd + 2 * hd + i)];
      }
    keep.push_back(upload(ctx, qkv));
    const ops::Tensor t = ops::external(g, keep[0], DType::F32, {tokens, 3 * hd});
    tq = {t, 0}, tk = {t, hd}, tv = {t, 2 * hd};
  } else {
    q = random_floats(size_t(tokens * hd), 42), k = random_floats(q.size(), 43), v = random_floats(q.size(), 44);
    for (const auto* x : {&q, &k, &v}) keep.push_back(upload(ctx, *x));
    tq = {ops::external(g, keep[0], DType::F32, {c.N, c.S, c.H, c.D}), 0};
    tk = {ops::external(g, keep[1], DType::F32, {c.N, c.S, c.H, c.D}), 0};
    tv = {ops::external(g, keep[2], DType::F32, {c.N, c.S, c.H, c.D}), 0};
  }
  ops::attention_encoder(g, tq, tk, tv, ops::external(g, mb, DType::I32, {c.N, c.S}),
                         ops::external(g, ob, DType::F32, {c.N, c.S, c.H, c.D}),
                         {.splits = c.splits, .exact = true});  // fp16 tensor cores: test_attention_coopmat
  g.compile().run();
  std::vector<float> ref(q.size());
  ops::attention_encoder_ref(q, k, v, mask, c.N, c.S, c.H, c.D, float(1.0 / std::sqrt(double(c.D))), ref);
  expect_close(ref, download(ctx, ob, ref.size()));
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionEncoder,
                         testing::Values(EncoderCase{2, 37, 3, 20, 0.3, true}, EncoderCase{1, 101, 2, 64, 0.3, false},
                                         EncoderCase{3, 16, 1, 12, 0.3, false, 2},
                                         EncoderCase{1, 19, 2, 128, 0.0, true}));

TEST(AttentionErrors, ShapeErrorsAreExceptions) {
  Context& ctx = test::context();
  Buffer b = ctx.create_buffer(1 << 16);
  Graph g(ctx);
  auto t = [&](DType d, std::vector<int64_t> s) { return ops::external(g, b, d, std::move(s)); };
  auto expect_msg = [](auto fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "expected std::invalid_argument mentioning " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // Hq not a multiple of Hkv
  expect_msg(
      [&] {
        ops::attention_decoder(g, {t(DType::F32, {1, 1, 5, 8}), 0}, t(DType::F32, {1, 2, 16, 8}),
                               t(DType::F32, {1, 2, 16, 8}), t(DType::I32, {1}), t(DType::F32, {1, 1, 5, 8}),
                               uint32_t(0));
      },
      "multiple of kv heads");
  // pos0 + T past the capacity
  expect_msg(
      [&] {
        ops::attention_decoder(g, {t(DType::F32, {1, 4, 2, 8}), 0}, t(DType::F32, {1, 1, 16, 8}),
                               t(DType::F32, {1, 1, 16, 8}), t(DType::I32, {1}), t(DType::F32, {1, 4, 2, 8}),
                               uint32_t(13));
      },
      "capacity 16");
  // q view columns past its row
  expect_msg(
      [&] {
        ops::attention_encoder(g, {t(DType::F32, {10, 24}), 8}, {t(DType::F32, {10, 24}), 0},
                               {t(DType::F32, {10, 24}), 0}, t(DType::U32, {2, 5}), t(DType::F32, {2, 5, 2, 10}));
      },
      "do not fit");
  // float mask
  expect_msg(
      [&] {
        ops::attention_encoder(g, {t(DType::F32, {2, 5, 2, 8}), 0}, {t(DType::F32, {2, 5, 2, 8}), 0},
                               {t(DType::F32, {2, 5, 2, 8}), 0}, t(DType::F32, {2, 5}), t(DType::F32, {2, 5, 2, 8}));
      },
      "key_mask");
  EXPECT_EQ(g.size(), 0u);
}

// A decode step with the output projection folded in (AttentionOptions::o_proj, float
// atomics): h gets h0 + att · W_oᵀ and h_next is zeroed; W_o rounded to its dtype for the
// reference. Shapes: the 256M step (G 3, D 64), two batch rows, f32 and f16 W_o; G·D = 60
// (not a multiple of 8) is declined: attention_decoder returns false and writes out.
TEST(AttentionDecoderCases, OutputProjectionFolded) {
  Context& ctx = test::context();
  if (!ctx.caps().use_float_atomics) GTEST_SKIP() << "no f32 atomic add on this device";
  struct Case {
    int64_t B, Hq, Hkv, D, C, pos0, H;
    DType wt;
  };
  for (const Case& c : {Case{1, 9, 3, 64, 40, 30, 96, DType::BF16}, Case{2, 6, 2, 24, 23, 17, 50, DType::F32},
                        Case{1, 4, 4, 16, 9, 8, 24, DType::F16}, Case{2, 6, 2, 20, 23, 17, 50, DType::BF16}}) {
    SCOPED_TRACE("B " + std::to_string(c.B) + " Hq " + std::to_string(c.Hq) + " D " + std::to_string(c.D));
    const int64_t qcols = c.Hq * c.D;
    const auto q = random_floats(size_t(c.B * qcols), 11);
    const auto kc = random_floats(size_t(c.B * c.Hkv * c.C * c.D), 12);
    const auto vc = random_floats(size_t(c.B * c.Hkv * c.C * c.D), 13);
    const auto wo = random_floats(size_t(c.H * qcols), 14, 0.5f);
    const auto h0 = random_floats(size_t(c.B * c.H), 15);
    const std::vector<int32_t> kv_start(size_t(c.B), 0);
    const ops::PackedWeights pw = ops::pack_weights(wo, c.wt);
    Buffer qb = upload(ctx, q), kb = upload(ctx, kc), vb = upload(ctx, vc), sb = upload(ctx, kv_start),
           hb = upload(ctx, h0), zb = upload(ctx, std::vector<float>(size_t(c.B * c.H), 5.0f)),
           ob = ctx.create_buffer(size_t(c.B * qcols) * 4), wb = test::upload_weights(ctx, pw);
    Graph g(ctx);
    const ops::OutputProjection fold{ops::external(g, wb, c.wt, {c.H, qcols}),
                                     ops::external(g, hb, DType::F32, {c.B, c.H}),
                                     ops::external(g, zb, DType::F32, {c.B, c.H})};
    const bool folded = ops::attention_decoder(
        g, {ops::external(g, qb, DType::F32, {c.B, qcols}), 0},
        ops::external(g, kb, DType::F32, {c.B, c.Hkv, c.C, c.D}),
        ops::external(g, vb, DType::F32, {c.B, c.Hkv, c.C, c.D}), ops::external(g, sb, DType::I32, {c.B}),
        ops::external(g, ob, DType::F32, {c.B, 1, c.Hq, c.D}), ops::ParamWord{g.params(), 2}, {.o_proj = &fold});
    const bool foldable = (c.Hq / c.Hkv * c.D) % 8 == 0;
    ASSERT_EQ(folded, foldable);
    Program p = g.compile();
    p.set_param(2, uint32_t(c.pos0));
    p.run();

    std::vector<float> att(size_t(c.B * qcols)), ref = h0;
    ops::attention_decoder_ref(q, kc, vc, c.C, kv_start, c.pos0, {c.B, 1, c.Hq, c.Hkv, c.D},
                               float(1.0 / std::sqrt(double(c.D))), att);
    if (!foldable) {
      EXPECT_LE(test::max_rel_error(att, download(ctx, ob, att.size())), kTol);
      continue;
    }
    ops::matmul_ref(att, pw.rounded, {}, ref, c.B, c.H, qcols, true);
    EXPECT_LE(test::max_rel_error(ref, download(ctx, hb, ref.size())), kTol);
    for (float z : download(ctx, zb, size_t(c.B * c.H))) ASSERT_EQ(z, 0.0f);
  }
}
