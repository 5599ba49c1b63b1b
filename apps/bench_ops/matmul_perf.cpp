// Throughput of ops::matmul on the chosen device (not a test): GPU time from timestamps,
// best of several replays, for SmolVLM-256M-like shapes.
// Usage: bench_ops [reps] [--tiles]   (SMOLVK_DEVICE / SMOLVK_PORTABLE / SMOLVK_NO_COOPMAT
// pick the device and path; --tiles also sweeps tensor-core tile shapes on the vision GEMMs)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/ops/matmul.h"
#include "model/ops/matmul_ref.h"

using namespace smolvk;

namespace {

void bench(Context& ctx, int64_t M, int64_t N, int64_t K, DType wt, int reps,
           const ops::CoopmatTile& tile = {}) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(size_t(M * K)), w(size_t(N * K));
  for (float& f : x) f = u(rng);
  for (float& f : w) f = u(rng);
  const ops::PackedWeights pw = ops::pack_weights(w, wt);
  Buffer bx = ctx.create_buffer(x.size() * 4), bw = ctx.create_buffer((pw.bytes.size() + 3) / 4 * 4),
         by = ctx.create_buffer(size_t(M * N) * 4);
  ctx.upload(bx, x.data(), x.size() * 4);
  ctx.upload(bw, pw.bytes.data(), pw.bytes.size());
  Graph g(ctx);
  g.enable_timestamps();
  ops::matmul(g, ops::external(g, bx, DType::F32, {M, K}), ops::external(g, bw, wt, {N, K}), nullptr,
              ops::external(g, by, DType::F32, {M, N}), {.name = "bench", .coopmat_tile = tile});
  Program p = g.compile();
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
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const double bytes = double(M * K) * 4 + double(pw.bytes.size()) + double(M * N) * 4;
  std::string tile_name;
  if (tile.bm)
    tile_name = " tile " + std::to_string(tile.bm) + "x" + std::to_string(tile.bn) + "x" + std::to_string(tile.bk) +
                "/" + std::to_string(tile.wm) + "x" + std::to_string(tile.wn);
  std::printf("M %5lld N %5lld K %5lld %-4s %-20s %10.1f us %8.2f GFLOP/s %8.2f GB/s%s\n",
              (long long)M, (long long)N, (long long)K, std::string(dtype_name(wt)).c_str(),
              shader.c_str(), best_ns / 1e3, flops / best_ns, bytes / best_ns, tile_name.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int reps = 5;
    bool tiles = false;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--tiles") == 0) tiles = true;
      else reps = std::max(1, std::atoi(argv[i]));
    }
    Context ctx;
    if (!ctx.caps().timestamps) {
      std::fprintf(stderr, "device has no compute timestamps\n");
      return 1;
    }
    std::printf("%s (subgroup %s, coopmat %s)\n", ctx.caps().name.c_str(),
                ctx.caps().use_subgroup ? "on" : "off", ctx.caps().use_coopmat ? "on" : "off");
    bench(ctx, 1024, 768, 768, DType::F32, reps);
    bench(ctx, 1024, 768, 768, DType::BF16, reps);
    bench(ctx, 1, 576, 1536, DType::BF16, reps);
    bench(ctx, 1, 576, 1536, DType::F32, reps);
    bench(ctx, 1, 49280, 576, DType::BF16, reps);
    // SmolVLM-256M vision encoder over 13 tiles: fused QKV, MLP up, MLP down.
    const int64_t vision_rows = 13312;
    const int64_t vision[3][2] = {{2304, 768}, {3072, 768}, {768, 3072}};
    for (const auto& [N, K] : vision)
      for (DType t : {DType::BF16, DType::F16, DType::F32}) bench(ctx, vision_rows, N, K, t, reps);
    // The text decoder's prefill of 1,108 tokens (17 tiles): qkv, o, gate_up, down.
    const int64_t prefill[4][2] = {{960, 576}, {576, 576}, {3072, 576}, {576, 1536}};
    for (const auto& [N, K] : prefill) bench(ctx, 1108, N, K, DType::BF16, reps);
    if (tiles && ctx.caps().use_coopmat) {
      const ops::CoopmatTile shapes[] = {{128, 128, 32, 64, 32}, {128, 128, 32, 32, 64}, {128, 128, 64, 64, 32},
                                         {128, 128, 32, 64, 64}, {128, 64, 32, 32, 32},  {64, 128, 32, 32, 32},
                                         {64, 64, 32, 32, 32},   {128, 256, 32, 64, 64}, {256, 128, 32, 64, 64}};
      for (const auto& tile : shapes)
        for (const auto& [N, K] : vision) {
          try {
            bench(ctx, vision_rows, N, K, DType::BF16, reps, tile);
          } catch (const std::invalid_argument& e) {
            std::printf("skipped: %s\n", e.what());
            break;
          }
        }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
