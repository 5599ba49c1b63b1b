#include "apps/cli/bench_session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <unistd.h>

#include "apps/cli/model_args.h"
#include "apps/cli/presets.h"

namespace smolvk::cli {
namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

int to_int(const std::string& opt, const std::string& v, int min) {
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || x < min || x > 1'000'000)
    throw std::invalid_argument(opt + " " + v + ": expected an integer from " + std::to_string(min) + " to 1000000");
  return int(x);
}

double to_positive(const std::string& opt, const std::string& v) {
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || !(x > 0))
    throw std::invalid_argument(opt + " " + v + ": expected a positive number");
  return x;
}

DType parse_dtype(const std::string& v) {
  if (v == "bf16") return DType::BF16;
  if (v == "f16") return DType::F16;
  if (v == "f32") return DType::F32;
  throw std::invalid_argument("--dtype " + v + ": expected bf16, f16 or f32");
}

}  // namespace

std::string bench_usage(bool profile_command) {
  std::string names;
  for (const auto& n : preset_names()) names += (names.empty() ? "" : "|") + n;
  std::string u = profile_command
                      ? "usage: smolvk profile (--model DIR | --shape " + names +
                            ") [options]\n"
                            "GPU time of every dispatch of one generate() (after --warmup runs), per op, per\n"
                            "shader variant and per layer op (one GEMM or attention shape: vision.L*.fc1),\n"
                            "for the phases encode, prefill and decode (one step).\n"
                      : "usage: smolvk bench (--model DIR | --shape " + names +
                            ") [options]\n"
                            "Times image encode, prefill, decode and cold start on a synthetic batch:\n"
                            "random pixel tiles and a prompt holding their image tokens.\n";
  u += "\n"
       "  --model DIR           a Hugging Face SmolVLM / Idefics3 checkpoint\n"
       "  --shape NAME          random weights of a published shape (no files needed)\n"
       "  --dtype bf16|f16|f32  weight dtype with --shape (default bf16); with --model, auto (default:\n"
       "                        as stored) or bf16 (the checkpoint's f32 tensors kept as bf16)\n"
       "  --batch B             copies of the request generated together (default 1)\n"
       "  --tiles T             image tiles per request (default 1)\n"
       "  --prompt-tokens P     prompt length incl. the T·image_seq_len image tokens\n"
       "                        (default T·image_seq_len + 20)\n"
       "  --new-tokens N        tokens generated per request (default 32)\n"
       "  --warmup W            untimed runs first (default 1)\n";
  if (!profile_command)
    u += "  --reps R              timed runs; min/median/max over them (default 5)\n"
         "  --no-cold-start       skip the cold-start measurement (builds the model once)\n"
         "  --image-cache         keep the image cache on (256 MiB): the warmup encodes the tiles,\n"
         "                        the timed reps find them cached (a repeated image's first token)\n"
         "  --profile             add a profiled run and its per-op table\n"
         "  --batch-session       also time BatchSession's decode step (smolvk serve's path) beside\n"
         "                        generate's: B copies admitted together, then N - 1 steps, pipelined\n"
         "                        (the server's default) and one step at a time; ms/step, tokens/s,\n"
         "                        the host's split of a step, and both decode programs' dispatches\n"
         "                        and GPU time (one run each with timestamps)\n"
         "  --ctx-size P          with --batch-session: KV positions per slot (default 1024, as\n"
         "                        serve_bench's server, or the prompt + new tokens when more)\n";
  u += "  --trace FILE.json     write the dispatches as Chrome trace-event JSON (Perfetto)\n"
       "  --top N               rows per profile table (default 10)\n"
       "  --peak-gbps X         device peak bandwidth for the %peak columns\n"
       "  --peak-gflops X       device peak FLOP rate for the %peak columns\n"
       "  --seed S              random weights / pixels seed (default 0)\n"
       "  --json                JSON instead of tables\n";
  return u;
}

BenchOptions parse_bench_options(const std::vector<std::string>& args, bool profile_command) {
  BenchOptions o;
  std::string dtype_arg;
  o.profile = profile_command;
  if (profile_command) o.reps = 1;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw std::invalid_argument(a + ": missing value");
      return args[++i];
    };
    if (a == "--model")
      o.model_dir = value();
    else if (a == "--shape")
      o.shape = value();
    else if (a == "--dtype")
      dtype_arg = value();
    else if (a == "--batch")
      o.batch = to_int(a, value(), 1);
    else if (a == "--tiles")
      o.tiles = to_int(a, value(), 0);
    else if (a == "--prompt-tokens")
      o.prompt_tokens = to_int(a, value(), 1);
    else if (a == "--new-tokens")
      o.new_tokens = to_int(a, value(), 1);
    else if (a == "--warmup")
      o.warmup = to_int(a, value(), 0);
    else if (a == "--reps" && !profile_command)
      o.reps = to_int(a, value(), 1);
    else if (a == "--seed")
      o.seed = uint64_t(to_int(a, value(), 0));
    else if (a == "--trace")
      o.trace_file = value();
    else if (a == "--top")
      o.top = size_t(to_int(a, value(), 1));
    else if (a == "--peak-gbps")
      o.peak_gbps = to_positive(a, value());
    else if (a == "--peak-gflops")
      o.peak_gflops = to_positive(a, value());
    else if (a == "--json")
      o.json = true;
    else if (a == "--profile" && !profile_command)
      o.profile = true;
    else if (a == "--image-cache" && !profile_command)
      o.image_cache = true;
    else if (a == "--no-cold-start" && !profile_command)
      o.cold_start = false;
    else if (a == "--batch-session" && !profile_command)
      o.batch_session = true;
    else if (a == "--ctx-size" && !profile_command)
      o.ctx_size = to_int(a, value(), 1);
    else
      throw std::invalid_argument("unknown option '" + a + "'");
  }
  if (o.ctx_size && !o.batch_session)
    throw std::invalid_argument("--ctx-size " + std::to_string(o.ctx_size) +
                                ": only with --batch-session (the session's KV positions per slot)");
  if (o.model_dir.empty() == o.shape.empty())
    throw std::invalid_argument("give exactly one of --model DIR or --shape NAME");
  if (!dtype_arg.empty() && !o.model_dir.empty()) {
    const std::optional<LoadOptions> load = load_options_for(dtype_arg);
    if (!load)
      throw std::invalid_argument("--dtype " + dtype_arg + " with --model: expected " + kLoadDtypeChoices);
    o.load = *load;
  } else if (!dtype_arg.empty()) {
    o.dtype = parse_dtype(dtype_arg);
  }
  if (profile_command) o.cold_start = false;
  if (!o.trace_file.empty()) o.profile = true;
  if (!o.shape.empty()) preset_config(o.shape);  // reject an unknown name before any GPU work
  return o;
}

BenchSession::BenchSession(BenchOptions options) : o_(std::move(options)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "smolvk-bench-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary pipeline-cache directory " + tmpl);
  cache_dir_ = tmpl;
}

BenchSession::~BenchSession() {
  model_.reset();
  ctx_.reset();
  std::error_code ec;
  std::filesystem::remove_all(cache_dir_, ec);
}

void BenchSession::print_validation_messages() {
  if (!ctx_) return;
  for (const auto& m : ctx_->take_validation_messages())
    std::fprintf(stderr, "smolvk: Vulkan validation: %s\n", m.c_str());
}

StartTimes BenchSession::start() {
  print_validation_messages();
  model_.reset();
  ctx_.reset();
  StartTimes s;
  ContextOptions co = ContextOptions::from_env();
  co.cache_dir = cache_dir_.string();
  auto t0 = Clock::now();
  ctx_ = std::make_unique<Context>(co);
  s.context_ms = ms_between(t0, Clock::now());
  s.cache = ctx_->pipeline_cache_stats();

  t0 = Clock::now();
  model_ = o_.model_dir.empty() ? Model::random(*ctx_, preset_config(o_.shape), o_.dtype, o_.seed)
                                : Model::load(*ctx_, o_.model_dir, {}, {}, o_.load);
  s.weights_ms = ms_between(t0, Clock::now());
  if (o_.image_cache) model_->set_image_cache_budget(256ull << 20);
  build_requests();

  // Every program (encode, prefill, decode step) is built once by a 2-token generate.
  GenerateOptions g;
  g.max_new_tokens = 2;
  g.ignore_eos = true;
  t0 = Clock::now();
  std::vector<Result> r = model_->generate(requests_, g);
  const double generate_ms = ms_between(t0, Clock::now());
  s.first_token_ms = s.context_ms + r.front().timings.first_token_ms;
  s.pipelines_ready_ms = s.context_ms + generate_ms;
  const auto after = ctx_->pipeline_cache_stats();
  s.cache.pipelines_created = after.pipelines_created;
  s.cache.cache_hits = after.cache_hits;
  s.cache.hit_reporting = after.hit_reporting;
  ctx_->save_pipeline_cache();
  return s;
}

void BenchSession::build_requests() {
  const ModelConfig& c = model_->config();
  const int64_t seq = c.image_seq_len();
  const int64_t image_tokens = int64_t(o_.tiles) * seq;
  prompt_tokens_ = o_.prompt_tokens ? o_.prompt_tokens : int(image_tokens + 20);
  if (prompt_tokens_ < image_tokens)
    throw std::invalid_argument("--prompt-tokens " + std::to_string(prompt_tokens_) + " is less than the " +
                                std::to_string(image_tokens) + " image tokens of " + std::to_string(o_.tiles) +
                                " tile(s) (" + std::to_string(seq) + " per tile)");
  if (prompt_tokens_ + o_.new_tokens > c.text.max_position_embeddings)
    throw std::invalid_argument("--prompt-tokens " + std::to_string(prompt_tokens_) + " + --new-tokens " +
                                std::to_string(o_.new_tokens) + " exceed the model's " +
                                std::to_string(c.text.max_position_embeddings) + " positions");

  // Text tokens from a plain sentence (no special tokens); a few before the images, the rest after.
  std::vector<int32_t> text = model_->tokenizer().encode("User: Describe this picture in detail. ");
  std::erase_if(text, [&](int32_t id) { return id == c.image_token_id; });
  if (text.empty()) text.push_back(0);
  const int64_t n_text = prompt_tokens_ - image_tokens;
  const int64_t before = std::min<int64_t>(n_text, 5);
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < before; ++i) ids.push_back(text[size_t(i) % text.size()]);
  ids.insert(ids.end(), size_t(image_tokens), int32_t(c.image_token_id));
  for (int64_t i = before; i < n_text; ++i) ids.push_back(text[size_t(i) % text.size()]);

  Request r;
  r.prompt_ids = std::move(ids);
  if (o_.tiles > 0) {
    const int side = int(c.vision.image_size);
    r.tile_height = r.tile_width = side;
    const size_t pixels = size_t(o_.tiles) * size_t(side) * size_t(side);
    std::mt19937_64 rng(o_.seed ^ 0x5eedull);
    // The tiles as images give them: bytes before the processor's rescale and normalize,
    // which the encoder does on the device.
    r.pixel_bytes.resize(pixels * size_t(c.vision.num_channels));
    for (uint8_t& v : r.pixel_bytes) v = uint8_t(rng() >> 56);
    r.pixel_mask.assign(pixels, 1);
  }
  requests_.assign(size_t(o_.batch), r);
  if (o_.batch_session) session_positions();  // a bad --ctx-size is refused before any timing
}

int64_t BenchSession::session_positions() const {
  const int64_t need = int64_t(prompt_tokens_) + o_.new_tokens;
  const int64_t max = model_->config().text.max_position_embeddings;
  if (o_.ctx_size) {
    if (o_.ctx_size < need)
      throw std::invalid_argument("--ctx-size " + std::to_string(o_.ctx_size) + " is less than the prompt's " +
                                  std::to_string(prompt_tokens_) + " tokens + --new-tokens " +
                                  std::to_string(o_.new_tokens));
    if (o_.ctx_size > max)
      throw std::invalid_argument("--ctx-size " + std::to_string(o_.ctx_size) + " exceeds the model's " +
                                  std::to_string(max) + " positions");
    return o_.ctx_size;
  }
  return std::min(max, std::max<int64_t>(1024, need));
}

std::unique_ptr<BatchSession> BenchSession::make_batch_session(bool pipelined, bool timestamps) {
  BatchSessionOptions so;
  so.pipeline_decode = pipelined;
  so.timestamps = timestamps;
  return std::make_unique<BatchSession>(*model_, o_.batch, session_positions(), so);
}

SessionRep BenchSession::run_batch_session(BatchSession& session) {
  SlotSettings settings;
  settings.max_new_tokens = o_.new_tokens;
  settings.ignore_eos = true;
  const std::vector<SlotSettings> all(requests_.size(), settings);
  SessionRep rep;
  std::vector<Clock::time_point> returns;  // of admit(), then of each step()
  for (const SlotToken& t : session.admit(requests_, all))
    if (!t.stop_reason.empty()) session.release(t.slot);
  returns.push_back(Clock::now());
  while (session.running() > 0) {
    const std::vector<SlotToken> tokens = session.step();
    returns.push_back(Clock::now());
    if (returns.size() > 2 && session.running() > 0) rep.steps.push_back(session.last_step_times());
    for (const SlotToken& t : tokens)
      if (!t.stop_reason.empty()) session.release(t.slot);
  }
  const size_t n = returns.size() - 1;  // steps
  if (n >= 2)
    rep.decode_ms_per_step = ms_between(returns[1], returns.back()) / double(n - 1);
  else if (n == 1)
    rep.decode_ms_per_step = ms_between(returns[0], returns[1]);  // the only step also recorded
  rep.dispatches = session.last_step_times().dispatches;
  rep.key_bound = session.last_step_times().key_bound;
  if (!session.pipelined()) rep.profile = session.last_step_profile();
  return rep;
}

RepResult BenchSession::run(bool profile) {
  GenerateOptions g;
  g.max_new_tokens = o_.new_tokens;
  g.ignore_eos = true;
  g.profile = profile;
  std::vector<Clock::time_point> token_times;
  auto on_token = [&](int row, int32_t, const std::string&) {
    if (row == 0) token_times.push_back(Clock::now());
  };
  auto t0 = Clock::now();
  std::vector<Result> results = model_->generate(requests_, g, on_token);
  RepResult r;
  r.total_ms = ms_between(t0, Clock::now());
  r.timings = results.front().timings;
  r.profile = std::move(results.front().profile);
  const size_t n = token_times.size();
  if (n >= 3)
    r.decode_ms_per_step = ms_between(token_times[1], token_times[n - 1]) / double(n - 2);
  else if (n == 2)
    r.decode_ms_per_step = r.timings.decode_ms;  // the only step also built the decode program
  return r;
}

}  // namespace smolvk::cli
