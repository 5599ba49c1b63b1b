// Throughput of ops::matmul on the chosen device (not a test): GPU time from timestamps,
// best of several replays, for SmolVLM-256M-like shapes, each result checked against a CPU
// reference on 32 sampled rows (max |Δ| / max |ref|; "WRONG" above 5e-3).
// Usage: bench_ops [reps] [--tiles] [--rows M] [--tile BMxBNxBK/WMxWN/sS[/lL] ...] [--vision]
//                  [--prefill]
//   (SMOLVK_DEVICE / SMOLVK_PORTABLE / SMOLVK_NO_COOPMAT pick the device and path; --tiles also
//   sweeps tensor-core tile shapes, shared stages and f16 X on the vision GEMMs; --tile sweeps
//   the given tiles instead, with f16 X and bf16 and f16 weights, or with --prefill on the
//   text prefill's GEMMs (f32 X) at 1,108
//   rows and at --rows; --vision: only the vision GEMMs; --rows sets the vision GEMMs' M,
//   default 17 tiles = 17408)
// cooperative_matrix2: SMOLVK_COOPMAT2=1 bench_ops [reps] [--rows M] --cm2 WGxBMxBNxBK[,...]
//   the vision GEMMs (f16 X and W) on matmul_coopmat2.comp at each workgroup size and tile,
//   after the default tensor-core GEMM ("(NV1)") on the same inputs
// Batched decode: bench_ops [reps] --decode-rows 1,2,4,8,16 [--decode-shapes 256m,8b]
//   times every several-row kernel (the fused mat-vec, matmul_vec_rows, matmul_rows, the
//   tensor-core GEMM where the device has it, matmul_vec_batch; each forced by its kernel
//   policy) on the decoder's linears of Idefics3-8B (qkv 6144x4096, o_proj 4096x4096, gate_up
//   28672x4096, down 4096x14336) and SmolVLM-256M (960x576, 576x576, 3072x576, 576x1536), bf16
//   weights, at each row count: GPU us, GB/s of weight bytes, time against the batch-1 mat-vec,
//   and the result against a CPU reference (every row, every 7th column and the last 64;
//   "WRONG" above 1e-4, 5e-3 on tensor cores, which round X and W to f16). Exit 2 if any is.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/ops/kernel_policy.h"
#include "model/ops/matmul.h"
#include "model/ops/matmul_ref.h"

using namespace smolvk;

namespace {

// One GEMM's inputs on the device, timed under several kernel configurations.
struct Case {
  int64_t M, N, K;
  DType wt;
  std::vector<float> x, x16;  // x16: x as f16 rounds it
  ops::PackedWeights pw;
  std::vector<uint16_t> xh;  // f16 bits of x
  Buffer bx, bxh, bw, by;
};

Case make_case(Context& ctx, int64_t M, int64_t N, int64_t K, DType wt) {
  Case c{M, N, K, wt};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  c.x.resize(size_t(M * K));
  std::vector<float> w(size_t(N * K));
  for (float& f : c.x) f = u(rng);
  for (float& f : w) f = u(rng);
  c.pw = ops::pack_weights(w, wt);
  c.xh.resize(c.x.size());
  c.x16.resize(c.x.size());
  for (size_t i = 0; i < c.x.size(); ++i) {
    c.xh[i] = ops::f32_to_f16(c.x[i]);
    c.x16[i] = ops::f16_to_f32(c.xh[i]);
  }
  c.bx = ctx.create_buffer(c.x.size() * 4);
  c.bxh = ctx.create_buffer((c.xh.size() * 2 + 3) / 4 * 4);
  c.bw = ctx.create_buffer((c.pw.bytes.size() + 3) / 4 * 4);
  c.by = ctx.create_buffer(size_t(M * N) * 4);
  ctx.upload(c.bx, c.x.data(), c.x.size() * 4);
  ctx.upload(c.bxh, c.xh.data(), c.xh.size() * 2);
  ctx.upload(c.bw, c.pw.bytes.data(), c.pw.bytes.size());
  return c;
}

void run(Context& ctx, const Case& c, int reps, const ops::CoopmatTile& tile = {}, bool x_half = false,
         const ops::KernelPolicy* policy = nullptr, const std::string& label = "") {
  const auto [M, N, K, wt] = std::tuple{c.M, c.N, c.K, c.wt};
  Graph g(ctx);
  g.enable_timestamps();
  const ops::Tensor x =
      x_half ? ops::external(g, c.bxh, DType::F16, {M, K}) : ops::external(g, c.bx, DType::F32, {M, K});
  ops::matmul(g, x, ops::external(g, c.bw, wt, {N, K}), nullptr, ops::external(g, c.by, DType::F32, {M, N}),
              {.name = "bench", .coopmat_tile = tile, .policy = policy});
  Program p = g.compile();
  // The GPU's clocks drop while the host computes references: keep it busy for ~400 ms first
  // (150 ms was not enough on the H200).
  const auto warm_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
  while (std::chrono::steady_clock::now() < warm_until) p.run();
  double best_ns = 1e300;
  std::string shader;
  for (int r = 0; r < reps + 1; ++r) {
    p.run();
    double ns = 0;
    for (const auto& t : p.timings()) {
      ns += t.ns;
      shader = t.shader;
    }
    if (r > 0) best_ns = std::min(best_ns, ns);  // first run warms up
  }
  // Check 32 rows spread over M against the inputs as the kernel sees them (tensor cores
  // round X to f16; the weights are already rounded to their dtype).
  const bool tc = shader.rfind("matmul_coopmat", 0) == 0;
  std::vector<float> y(size_t(M * N));
  ctx.download(c.by, y.data(), y.size() * 4);
  double maxd = 0, maxa = 0;
  bool finite = true;
  for (int s = 0; s < 32; ++s) {
    const int64_t m = (M - 1) * s / 31;
    for (int64_t n = 0; n < N; ++n) {
      double ref = 0;
      for (int64_t k = 0; k < K; ++k) {
        const float xv = (tc ? c.x16 : c.x)[size_t(m * K + k)];
        const float wv =
            tc ? ops::f16_to_f32(ops::f32_to_f16(c.pw.rounded[size_t(n * K + k)])) : c.pw.rounded[size_t(n * K + k)];
        ref += double(xv) * double(wv);
      }
      const float got = y[size_t(m * N + n)];
      if (!std::isfinite(got)) finite = false;
      maxd = std::max(maxd, std::fabs(ref - double(got)));
      maxa = std::max(maxa, std::fabs(ref));
    }
  }
  const double rel = maxa > 0 ? maxd / maxa : maxd;
  const bool ok = finite && rel <= 5e-3;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const double bytes = double(M * K) * (x_half ? 2 : 4) + double(c.pw.bytes.size()) + double(M * N) * 4;
  std::string tile_name = label;
  if (tile.bm)
    tile_name = " tile " + std::to_string(tile.bm) + "x" + std::to_string(tile.bn) + "x" + std::to_string(tile.bk) +
                "/" + std::to_string(tile.wm) + "x" + std::to_string(tile.wn) + " s" + std::to_string(tile.stages);
  std::printf("M %6lld N %5lld K %5lld %-4s x %-3s %-24s %9.1f us %7.1f TFLOP/s %7.1f GB/s  %s %.1e%s\n", (long long)M,
              (long long)N, (long long)K, std::string(dtype_name(wt)).c_str(), x_half ? "f16" : "f32", shader.c_str(),
              best_ns / 1e3, flops / best_ns / 1e3, bytes / best_ns, ok ? "ok" : "WRONG", rel, tile_name.c_str());
  std::fflush(stdout);
}

// --decode-rows: one decoder linear's weights on the device, timed under each kernel.
struct DecodeShape {
  const char* name;
  int64_t N, K;
};

struct DecodeKernel {
  const char* name;
  const char* prefix;  // of the shader it must run
  ops::KernelPolicy policy;
};

// Each several-row kernel forced through the policy (the others' thresholds out of reach).
std::vector<DecodeKernel> decode_kernels(const Capabilities& caps) {
  const ops::KernelPolicy base = ops::kernel_policy(caps);
  auto make = [&](const char* name, const char* prefix, auto&& edit) {
    DecodeKernel k{name, prefix, base};
    k.policy.vec_batch_max_rows = 0;
    k.policy.fuse_matvec_max_rows = 0;
    k.policy.rows_kernel_min_rows = k.policy.coopmat_min_rows = 1000;
    edit(k.policy);
    return k;
  };
  std::vector<DecodeKernel> out;
  out.push_back(make("matvec", "matmul_vec_", [](ops::KernelPolicy& p) { p.fuse_matvec_max_rows = 64; }));
  out.push_back(make("vec_rows", "matmul_vec_rows", [](ops::KernelPolicy&) {}));
  out.push_back(make("rows", "matmul_rows", [](ops::KernelPolicy& p) { p.rows_kernel_min_rows = 1; }));
  if (caps.use_coopmat)
    out.push_back(make("coopmat", "matmul_coopmat", [](ops::KernelPolicy& p) { p.coopmat_min_rows = 1; }));
  out.push_back(make("vec_batch", "matmul_vec_batch", [](ops::KernelPolicy& p) {
                     p.vec_batch_max_rows = 64;
                     p.vec_batch_min_weight_mib = 0;
                     p.vec_batch_min_k = 0;
                   }));
  return out;
}

int run_decode(Context& ctx, int reps, const std::vector<int64_t>& rows_list, const std::string& shapes) {
  std::vector<DecodeShape> list;
  if (shapes.find("8b") != std::string::npos)
    for (const DecodeShape& d : {DecodeShape{"8b.qkv", 6144, 4096}, DecodeShape{"8b.o_proj", 4096, 4096},
                                 DecodeShape{"8b.gate_up", 28672, 4096}, DecodeShape{"8b.down", 4096, 14336}})
      list.push_back(d);
  if (shapes.find("256m") != std::string::npos)
    for (const DecodeShape& d : {DecodeShape{"256m.qkv", 960, 576}, DecodeShape{"256m.o_proj", 576, 576},
                                 DecodeShape{"256m.gate_up", 3072, 576}, DecodeShape{"256m.down", 576, 1536}})
      list.push_back(d);
  if (list.empty()) throw std::invalid_argument("--decode-shapes: expected 256m, 8b or both");
  const std::vector<DecodeKernel> kernels = decode_kernels(ctx.caps());
  std::printf("%s (subgroup %u %s, coopmat %s), bf16 weights, best of %d\n", ctx.caps().name.c_str(),
              ctx.caps().subgroup_size, ctx.caps().use_subgroup ? "on" : "off", ctx.caps().use_coopmat ? "on" : "off",
              reps);
  int wrong = 0;
  for (const DecodeShape& s : list) {
    const int64_t N = s.N, K = s.K;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> w(size_t(N * K));
    for (float& f : w) f = u(rng);
    const ops::PackedWeights pw = ops::pack_weights(w, DType::BF16);
    w = {};
    Buffer bw = ctx.create_buffer((pw.bytes.size() + 3) / 4 * 4);
    ctx.upload(bw, pw.bytes.data(), pw.bytes.size());
    std::vector<int64_t> cols;  // checked: every 7th and the last 64
    for (int64_t n = 0; n < N; ++n)
      if (n % 7 == 0 || n >= N - 64) cols.push_back(n);
    double batch1_ns = 0;
    for (const int64_t M : rows_list) {
      std::vector<float> x(size_t(M * K)), x16(x.size());
      for (float& f : x) f = u(rng);
      for (size_t i = 0; i < x.size(); ++i) x16[i] = ops::f16_to_f32(ops::f32_to_f16(x[i]));
      Buffer bx = ctx.create_buffer(x.size() * 4), by = ctx.create_buffer(size_t(M * N) * 4);
      ctx.upload(bx, x.data(), x.size() * 4);
      // References over the checked columns: exact inputs, and as the tensor cores see them.
      std::vector<double> ref, ref16;
      auto reference = [&](bool tc, std::vector<double>& out) {
        out.assign(size_t(M) * cols.size(), 0.0);
        for (int64_t m = 0; m < M; ++m)
          for (size_t j = 0; j < cols.size(); ++j) {
            const float* wr = pw.rounded.data() + size_t(cols[j] * K);
            const float* xr = (tc ? x16 : x).data() + size_t(m * K);
            double acc = 0;
            for (int64_t k = 0; k < K; ++k)
              acc += double(xr[k]) * double(tc ? ops::f16_to_f32(ops::f32_to_f16(wr[k])) : wr[k]);
            out[size_t(m) * cols.size() + j] = acc;
          }
      };
      reference(false, ref);
      for (const DecodeKernel& kern : kernels) {
        Graph g(ctx);
        g.enable_timestamps();
        try {
          ops::matmul(g, ops::external(g, bx, DType::F32, {M, K}), ops::external(g, bw, DType::BF16, {N, K}), nullptr,
                      ops::external(g, by, DType::F32, {M, N}), {.name = s.name, .policy = &kern.policy});
        } catch (const std::exception& e) {
          std::printf("%-13s M %2lld %-9s skipped: %s\n", s.name, (long long)M, kern.name, e.what());
          continue;
        }
        std::string shader;
        for (const Dispatch& d : g.dispatches()) shader += (shader.empty() ? "" : "+") + d.shader;
        Program p = g.compile();
        // Keep the GPU busy ~400 ms first: its clocks drop while the host computes references.
        const auto warm_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
        do p.run();
        while (std::chrono::steady_clock::now() < warm_until);
        double best_ns = 1e300;
        for (int r = 0; r < reps; ++r) {
          p.run();
          double ns = 0;
          for (const auto& t : p.timings()) ns += t.ns;
          best_ns = std::min(best_ns, ns);
        }
        const bool tc = shader.rfind("matmul_coopmat", 0) == 0;
        if (tc && ref16.empty()) reference(true, ref16);
        std::vector<float> y(size_t(M * N));
        ctx.download(by, y.data(), y.size() * 4);
        double maxd = 0, maxa = 0;
        bool finite = true;
        for (int64_t m = 0; m < M; ++m)
          for (size_t j = 0; j < cols.size(); ++j) {
            const double r = (tc ? ref16 : ref)[size_t(m) * cols.size() + j];
            const float got = y[size_t(m * N + cols[j])];
            if (!std::isfinite(got)) finite = false;
            maxd = std::max(maxd, std::fabs(r - double(got)));
            maxa = std::max(maxa, std::fabs(r));
          }
        const double rel = maxa > 0 ? maxd / maxa : maxd;
        const bool ok = finite && rel <= (tc ? 5e-3 : 1e-4);
        const bool as_asked = shader.rfind(kern.prefix, 0) == 0;
        wrong += ok ? 0 : 1;
        if (M == 1 && std::string(kern.name) == "matvec") batch1_ns = best_ns;
        char vs1[32] = "";
        if (batch1_ns > 0) std::snprintf(vs1, sizeof vs1, "%5.2fx b1", best_ns / batch1_ns);
        std::printf("%-13s N %5lld K %5lld M %2lld %-9s %-28s %9.1f us %7.1f GB/s %s  %s %.1e%s\n", s.name,
                    (long long)N, (long long)K, (long long)M, kern.name, shader.c_str(), best_ns / 1e3,
                    double(pw.bytes.size()) / best_ns, vs1, ok ? "ok" : "WRONG", rel,
                    as_asked ? "" : "  (not the kernel asked for)");
        std::fflush(stdout);
      }
    }
  }
  return wrong ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int reps = 5;
    bool tiles = false, vision_only = false, prefill_tiles = false;
    int64_t vision_rows = 17408;
    std::vector<ops::CoopmatTile> given;
    std::vector<std::array<uint32_t, 4>> cm2;  // --cm2: cooperative_matrix2 WGxBMxBNxBK configurations
    std::vector<int64_t> decode_rows;
    std::string decode_shapes = "256m,8b";
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--tiles") == 0)
        tiles = true;
      else if (std::strcmp(argv[i], "--vision") == 0)
        vision_only = true;
      else if (std::strcmp(argv[i], "--prefill") == 0)
        prefill_tiles = true;
      else if (std::strcmp(argv[i], "--tile") == 0 && i + 1 < argc) {
        ops::CoopmatTile t;
        const int n =
            std::sscanf(argv[++i], "%ux%ux%u/%ux%u/s%u/l%u", &t.bm, &t.bn, &t.bk, &t.wm, &t.wn, &t.stages, &t.slots);
        if (n < 6) throw std::invalid_argument(std::string("--tile ") + argv[i] + ": expected BMxBNxBK/WMxWN/sS[/lL]");
        given.push_back(t);
      } else if (std::strcmp(argv[i], "--decode-rows") == 0 && i + 1 < argc) {
        for (const char* q = argv[++i]; *q;) {
          char* end = nullptr;
          const long v = std::strtol(q, &end, 10);
          if (end == q || v < 1 || v > 64 || (*end && *end != ','))
            throw std::invalid_argument("--decode-rows: expected row counts 1..64, comma-separated");
          decode_rows.push_back(v);
          q = *end ? end + 1 : end;
        }
      } else if (std::strcmp(argv[i], "--decode-shapes") == 0 && i + 1 < argc)
        decode_shapes = argv[++i];
      else if (std::strcmp(argv[i], "--cm2") == 0 && i + 1 < argc) {
        for (const char* q = argv[++i]; *q;) {
          std::array<uint32_t, 4> t{};
          int used = 0;
          if (std::sscanf(q, "%ux%ux%ux%u%n", &t[0], &t[1], &t[2], &t[3], &used) != 4)
            throw std::invalid_argument(std::string("--cm2 ") + q + ": expected WGxBMxBNxBK[,...]");
          q += used;
          cm2.push_back(t);
          if (*q == ',') ++q;
        }
      } else if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
        vision_rows = std::max(1, std::atoi(argv[++i]));
      else
        reps = std::max(1, std::atoi(argv[i]));
    }
    Context ctx;
    if (!ctx.caps().timestamps) {
      std::fprintf(stderr, "device has no compute timestamps\n");
      return 1;
    }
    if (!decode_rows.empty()) return run_decode(ctx, reps, decode_rows, decode_shapes);
    // The SmolVLM-256M vision encoder's GEMMs: fused QKV, out_proj, MLP up, MLP down; then the
    // text decoder's prefill of 1,108 tokens (17 tiles): qkv, o, gate_up, down.
    const int64_t vision[4][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    const int64_t prefill[4][2] = {{960, 576}, {576, 576}, {3072, 576}, {576, 1536}};
    if (!cm2.empty()) {  // the vision GEMMs, f16 X and W: cooperative_matrix2 configurations against the NV1 GEMM
      std::printf("%s: coopmat2 %s\n", ctx.caps().name.c_str(), ctx.caps().use_coopmat2 ? "on" : "off");
      for (const auto& s : ctx.caps().coopmat2_shapes) std::printf("  flexible f16 x f16 -> f32: %s\n", s.c_str());
      for (const auto& [N, K] : vision) {
        const Case c = make_case(ctx, vision_rows, N, K, DType::F16);
        ops::KernelPolicy p = ops::kernel_policy(ctx.caps());
        p.coopmat2 = 0;
        run(ctx, c, reps, {}, true, &p, " (NV1)");
        p.coopmat_khr = 1;
        run(ctx, c, reps, {}, true, &p, " (KHR)");
        p.coopmat_khr = 0;
        for (const auto& t : cm2) {
          p.coopmat2 = 1;
          p.cm2_workgroup = t[0], p.cm2_bm = t[1], p.cm2_bn = t[2], p.cm2_bk = t[3];
          try {
            run(ctx, c, reps, {}, true, &p,
                " wg " + std::to_string(t[0]) + " " + std::to_string(t[1]) + "x" + std::to_string(t[2]) + "x" +
                    std::to_string(t[3]));
          } catch (const std::exception& e) {
            std::printf("skipped: %s\n", e.what());
          }
        }
      }
      return 0;
    }
    if (!given.empty() && prefill_tiles) {  // the given tiles on the prefill GEMMs (f32 X, bf16 W)
      for (const int64_t M : {int64_t(1108), vision_rows})
        for (const auto& [N, K] : prefill) {
          const Case c = make_case(ctx, M, N, K, DType::BF16);
          for (const auto& tile : given) try {
              run(ctx, c, reps, tile, false);
            } catch (const std::exception& e) {
              std::printf("skipped: %s\n", e.what());
            }
        }
      return 0;
    }
    if (!given.empty()) {  // the given tiles on the vision GEMMs, f16 X and weights (as the encoder runs)
      for (const auto& [N, K] : vision)
        for (DType wt : {DType::F16}) {
          const Case c = make_case(ctx, vision_rows, N, K, wt);
          for (const auto& tile : given) try {
              run(ctx, c, reps, tile, true);
            } catch (const std::exception& e) {
              std::printf("skipped: %s\n", e.what());
            }
        }
      return 0;
    }
    std::printf("%s (subgroup %s, coopmat %s)\n", ctx.caps().name.c_str(), ctx.caps().use_subgroup ? "on" : "off",
                ctx.caps().use_coopmat ? "on" : "off");
    for (const auto& [M, N, K, t] : {std::tuple{1, 576, 1536, DType::BF16}, std::tuple{1, 49280, 576, DType::BF16}})
      run(ctx, make_case(ctx, M, N, K, t), reps);
    const bool tc = ctx.caps().use_coopmat;
    for (const auto& [N, K] : vision) {
      const Case c = make_case(ctx, vision_rows, N, K, DType::BF16);
      run(ctx, c, reps);
      if (tc) run(ctx, c, reps, {}, true);
      if (!tiles || !tc) continue;
      // 16 subgroups of 32x32 with one stage was best on the H200 among 12 shapes; the rest
      // try two stages or a 64-deep slice in the room that fewer epilogue slots leave.
      const ops::CoopmatTile shapes[] = {{128, 128, 32, 32, 32, 1},    {128, 128, 32, 32, 32, 2, 8},
                                         {128, 128, 32, 32, 32, 2, 4}, {128, 128, 64, 32, 32, 1, 8},
                                         {128, 128, 64, 32, 32, 1, 4}, {128, 128, 32, 32, 32, 1, 4},
                                         {256, 128, 32, 64, 32, 1, 8}, {128, 256, 32, 32, 64, 1, 8}};
      for (const auto& tile : shapes)
        for (bool xh : {false, true}) {
          try {
            run(ctx, c, reps, tile, xh);
          } catch (const std::invalid_argument& e) {
            std::printf("skipped: %s\n", e.what());
            break;
          }
        }
    }
    if (vision_only) return 0;
    for (const auto& [N, K] : prefill) {
      const Case c = make_case(ctx, 1108, N, K, DType::BF16);
      run(ctx, c, reps);
      if (tc) run(ctx, c, reps, {}, true);
      if (!tiles || !tc) continue;
      for (const ops::CoopmatTile& tile :
           {ops::CoopmatTile{64, 64, 32, 32, 32, 2}, ops::CoopmatTile{64, 128, 32, 32, 64, 2},
            ops::CoopmatTile{128, 64, 32, 64, 32, 2}, ops::CoopmatTile{64, 64, 64, 32, 32, 2}})
        run(ctx, c, reps, tile);
    }
    // Batched decode (8 and 32 rows): the mat-vec / rows kernels, then tensor-core tiles.
    for (const int64_t M : {8, 32})
      for (const auto& [N, K] : prefill) {
        const Case c = make_case(ctx, M, N, K, DType::BF16);
        run(ctx, c, reps);
        if (!tiles || !tc) continue;
        for (const ops::CoopmatTile& tile :
             {ops::CoopmatTile{32, 64, 32, 32, 32, 2}, ops::CoopmatTile{32, 32, 32, 16, 16, 2},
              ops::CoopmatTile{32, 64, 64, 32, 32, 2}, ops::CoopmatTile{32, 128, 32, 32, 32, 2}})
          run(ctx, c, reps, tile);
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
