#include "apps/cli/model_args.h"

#include <unistd.h>

#include "apps/cli/progress_bar.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace smolvk::cli {

std::filesystem::path model_dir(const Args& a) {
  if (a.has("model")) return a.get("model");
  if (const char* d = std::getenv("SMOLVK_DEMO_MODEL"); d && *d) return d;
  return SMOLVK_DEMO_MODEL_DIR;
}

bool is_demo_model(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::equivalent(dir, SMOLVK_DEMO_MODEL_DIR, ec);
}

std::optional<LoadOptions> load_options_for(const std::string& dtype) {
  if (dtype == "auto") return LoadOptions{};
  if (dtype == "bf16") return LoadOptions{.f32_as_bf16 = true};
  return std::nullopt;
}

LoadOptions load_options_from(const Args& a) {
  const std::string v = a.get("dtype", "auto");
  const std::optional<LoadOptions> o = load_options_for(v);
  if (!o) throw std::invalid_argument("--dtype '" + v + "': expected " + kLoadDtypeChoices);
  return *o;
}

std::unique_ptr<Model> load_model(Context& ctx, const std::filesystem::path& dir, bool quiet, double* load_ms,
                                  const LoadOptions& options) {
  if (is_demo_model(dir) && !quiet)
    std::fprintf(stderr,
                 "smolvk: no --model given: using the demo checkpoint %s, which has RANDOM "
                 "weights (its answers are gibberish). Point --model at a download of "
                 "HuggingFaceTB/SmolVLM-256M-Instruct for real answers.\n",
                 dir.string().c_str());
  auto t0 = std::chrono::steady_clock::now();
  ProgressBar bar("smolvk: uploading weights", isatty(fileno(stderr)) != 0);
  std::unique_ptr<Model> m;
  try {
    m = Model::load(
        ctx, dir,
        [&](const std::string& what) {
          if (!quiet && what != "uploading weights") std::fprintf(stderr, "smolvk: %s...\n", what.c_str());
        },
        [&](uint64_t done, uint64_t total) {
          if (!quiet) bar.update(done, total);
        },
        options);
  } catch (...) {
    bar.finish();  // the error goes on a line of its own
    throw;
  }
  bar.finish();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (load_ms) *load_ms = ms;
  if (!quiet)
    std::fprintf(stderr, "smolvk: loaded %s (%.1fM parameters, %.1f MiB) on %s in %.0f ms\n",
                 m->config().architecture_name.c_str(), double(m->parameter_count()) / 1e6,
                 double(m->weight_bytes()) / (1 << 20), ctx.caps().name.c_str(), ms);
  return m;
}

SamplingParams sampling_from(const Args& a) {
  SamplingParams s;
  s.temperature = float(a.get_double("temperature", 0.0));
  s.top_k = int(a.get_int("top-k", 0));
  s.top_p = float(a.get_double("top-p", 1.0));
  s.seed = uint64_t(a.get_int("seed", 0));
  if (s.temperature < 0) throw std::invalid_argument("--temperature must be ≥ 0 (0 = greedy)");
  if (s.top_k < 0) throw std::invalid_argument("--top-k must be ≥ 0 (0 = off)");
  if (!(s.top_p > 0 && s.top_p <= 1)) throw std::invalid_argument("--top-p must be in (0, 1]");
  return s;
}

std::vector<Args::Spec> model_and_sampling_specs() {
  return {{"model", true}, {"temperature", true},    {"top-k", true}, {"top-p", true},
          {"seed", true},  {"max-new-tokens", true}, {"dtype", true}, {"help", false}};
}

}  // namespace smolvk::cli
