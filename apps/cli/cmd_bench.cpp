// smolvk bench: encode / prefill / decode timings, time to first token, cold start and peak
// device memory over a synthetic batch; min/median/max over the reps.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "apps/cli/bench_session.h"
#include "apps/cli/commands.h"
#include "apps/cli/profile_report.h"

namespace smolvk::cli {
namespace {

struct Stats {
  double min = 0, median = 0, max = 0;
};

std::optional<Stats> stats(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  return Stats{v.front(), median, v.back()};
}

nlohmann::json to_json(const std::optional<Stats>& s) {
  if (!s) return nullptr;
  return {{"min", s->min}, {"median", s->median}, {"max", s->max}};
}

nlohmann::json to_json(const StartTimes& s) {
  return {{"context_ms", s.context_ms},
          {"weights_ms", s.weights_ms},
          {"first_token_ms", s.first_token_ms},
          {"pipelines_ready_ms", s.pipelines_ready_ms},
          {"pipelines_created", s.cache.pipelines_created},
          {"cache_hits", s.cache.hit_reporting ? nlohmann::json(s.cache.cache_hits) : nlohmann::json(nullptr)},
          {"cache_bytes_loaded", s.cache.loaded_bytes}};
}

// A phase's host split (HostSplit), as statistics over the reps.
struct SplitStats {
  std::optional<Stats> upload, record, run;
};

struct Measured {
  std::optional<Stats> encode, prefill, decode_step, tokens_per_s, first_token, total;
  SplitStats encode_host, prefill_host;
};

struct SplitSamples {
  std::vector<double> upload, record, run;
  void add(const HostSplit& h) {
    upload.push_back(h.upload_ms);
    record.push_back(h.record_ms);
    run.push_back(h.run_ms);
  }
  SplitStats stats() const { return {smolvk::cli::stats(upload), smolvk::cli::stats(record), smolvk::cli::stats(run)}; }
};

nlohmann::json to_json(const SplitStats& s) {
  return {{"upload", to_json(s.upload)}, {"record", to_json(s.record)}, {"run", to_json(s.run)}};
}

Measured measure(BenchSession& s) {
  const BenchOptions& o = s.options();
  for (int i = 0; i < o.warmup; ++i) s.run(false);
  std::vector<double> encode, prefill, step, tps, first, total;
  SplitSamples encode_host, prefill_host;
  for (int i = 0; i < o.reps; ++i) {
    RepResult r = s.run(false);
    if (o.tiles > 0) {
      encode.push_back(r.timings.encode_ms);
      encode_host.add(r.timings.encode_host);
    }
    prefill.push_back(r.timings.prefill_ms);
    prefill_host.add(r.timings.prefill_host);
    first.push_back(r.timings.first_token_ms);
    total.push_back(r.total_ms);
    if (r.decode_ms_per_step && *r.decode_ms_per_step > 0) {
      step.push_back(*r.decode_ms_per_step);
      tps.push_back(1e3 * o.batch / *r.decode_ms_per_step);
    }
  }
  return {stats(encode), stats(prefill), stats(step),         stats(tps),
          stats(first),  stats(total),   encode_host.stats(), prefill_host.stats()};
}

// --batch-session: BatchSession's decode step beside generate's.
struct SessionMode {
  std::optional<Stats> ms_per_step, tokens_per_s;
  // The host's split of a step() call (µs), over steps 2 … N − 2 of every rep (SessionRep::steps).
  std::optional<Stats> wait, count, prepare, record, submit, text;
  size_t dispatches = 0;
  uint32_t key_bound = 0;
};

struct DecodeProgram {
  size_t dispatches = 0;
  double gpu_us = 0;  // the sum of its dispatches' GPU times (timestamps)
};

DecodeProgram program_of(const std::vector<DispatchTiming>& d) {
  DecodeProgram p{d.size(), 0};
  for (const auto& t : d) p.gpu_us += t.ns / 1e3;
  return p;
}

struct SessionReport {
  int64_t positions = 0;
  int64_t generate_keys = 0;  // the keys generate's decode step plans for (its cache)
  SessionMode pipelined, one_at_a_time;
  DecodeProgram generate_program, session_program;
};

SessionMode measure_session(BenchSession& s, bool pipelined) {
  const BenchOptions& o = s.options();
  auto session = s.make_batch_session(pipelined, false);
  for (int i = 0; i < std::max(o.warmup, 1); ++i) s.run_batch_session(*session);  // records the programs
  std::vector<double> step, tps, wait, count, prepare, record, submit, text;
  SessionMode m;
  for (int i = 0; i < o.reps; ++i) {
    const SessionRep r = s.run_batch_session(*session);
    if (r.decode_ms_per_step && *r.decode_ms_per_step > 0) {
      step.push_back(*r.decode_ms_per_step);
      tps.push_back(1e3 * o.batch / *r.decode_ms_per_step);
    }
    for (const BatchStepTimes& t : r.steps) {
      wait.push_back(1e3 * t.wait_ms);
      count.push_back(1e3 * t.count_ms);
      prepare.push_back(1e3 * t.prepare_ms);
      record.push_back(1e3 * t.record_ms);
      submit.push_back(1e3 * t.submit_ms);
      text.push_back(1e3 * t.text_ms);
    }
    m.dispatches = r.dispatches;
    m.key_bound = r.key_bound;
  }
  m.ms_per_step = stats(step);
  m.tokens_per_s = stats(tps);
  m.wait = stats(wait);
  m.count = stats(count);
  m.prepare = stats(prepare);
  m.record = stats(record);
  m.submit = stats(submit);
  m.text = stats(text);
  return m;
}

SessionReport measure_sessions(BenchSession& s, const std::vector<PhaseProfile>& generate_profile) {
  const BenchOptions& o = s.options();
  SessionReport r;
  r.positions = s.session_positions();
  r.generate_keys = std::min<int64_t>((int64_t(s.prompt_tokens()) + o.new_tokens + 15) / 16 * 16,
                                      s.model().config().text.max_position_embeddings);
  r.pipelined = measure_session(s, true);
  r.one_at_a_time = measure_session(s, false);
  for (const auto& phase : generate_profile)
    if (phase.phase == "decode") r.generate_program = program_of(phase.dispatches);
  auto profiled = s.make_batch_session(false, true);
  r.session_program = program_of(s.run_batch_session(*profiled).profile);
  return r;
}

nlohmann::json to_json(const SessionMode& m) {
  return {{"decode_ms_per_step", to_json(m.ms_per_step)},
          {"decode_tokens_per_s", to_json(m.tokens_per_s)},
          {"host_us",
           {{"wait_gpu", to_json(m.wait)},
            {"count_ids", to_json(m.count)},
            {"prepare_next", to_json(m.prepare)},
            {"record", to_json(m.record)},
            {"submit", to_json(m.submit)},
            {"detokenize", to_json(m.text)}}},
          {"dispatches", m.dispatches},
          {"key_bound", m.key_bound}};
}

nlohmann::json to_json(const DecodeProgram& p) { return {{"dispatches", p.dispatches}, {"gpu_us", p.gpu_us}}; }

std::string stat_row(const std::string& label, const std::optional<Stats>& s) {
  char line[160];
  if (!s)
    std::snprintf(line, sizeof line, "  %-32s %12s\n", label.c_str(), "n/a");
  else
    std::snprintf(line, sizeof line, "  %-32s %12.3f %12.3f %12.3f\n", label.c_str(), s->min, s->median, s->max);
  return line;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    std::printf("%s", bench_usage(false).c_str());
    return 0;
  }
  BenchOptions o;
  try {
    o = parse_bench_options(args, false);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "smolvk bench: %s\n\n%s", e.what(), bench_usage(false).c_str());
    return 2;
  }
  BenchSession s(o);
  std::optional<StartTimes> cold, warm;
  if (o.cold_start) cold = s.start();
  StartTimes current = s.start();
  if (o.cold_start) warm = current;
  const Measured m = measure(s);
  std::vector<PhaseProfile> profile;
  if (o.profile || o.batch_session) profile = s.run(true).profile;
  std::optional<SessionReport> sessions;
  if (o.batch_session) sessions = measure_sessions(s, profile);
  const uint64_t peak_bytes = s.context().peak_device_bytes();
  s.print_validation_messages();

  const Capabilities& caps = s.context().caps();
  const DevicePeak peak = device_peak(caps.name, o.peak_gbps, o.peak_gflops);
  const Model& model = s.model();
  const std::string dtype = o.model_dir.empty() ? std::string(dtype_name(o.dtype))
                                                : model.config().torch_dtype + (o.load.f32_as_bf16 ? ", f32 as bf16" : "");
  const auto reports = aggregate_profile(profile);

  if (!o.trace_file.empty()) {
    std::ofstream out(o.trace_file);
    out << chrome_trace(profile, caps.name).dump() << "\n";
    if (!out) throw std::runtime_error(o.trace_file + ": cannot write the trace file");
  }

  if (o.json) {
    nlohmann::json j = {
        {"command", "bench"},
        {"device",
         {{"name", caps.name},
          {"type", caps.device_type},
          {"vendor", caps.vendor},
          {"driver", caps.driver_name + " " + caps.driver_info}}},
        {"model",
         {{"source", o.model_dir.empty() ? "shape " + o.shape : o.model_dir},
          {"dtype", dtype},
          {"parameters", model.parameter_count()},
          {"weight_bytes", model.weight_bytes()},
          {"image_seq_len", model.config().image_seq_len()}}},
        {"settings",
         {{"batch", o.batch},
          {"tiles", o.tiles},
          {"prompt_tokens", s.prompt_tokens()},
          {"new_tokens", o.new_tokens},
          {"warmup", o.warmup},
          {"reps", o.reps},
          {"image_cache", o.image_cache}}},
        {"encode_ms", to_json(m.encode)},
        {"prefill_ms", to_json(m.prefill)},
        {"encode_host_ms", to_json(m.encode_host)},
        {"prefill_host_ms", to_json(m.prefill_host)},
        {"decode_ms_per_step", to_json(m.decode_step)},
        {"decode_tokens_per_s", to_json(m.tokens_per_s)},
        {"first_token_ms", to_json(m.first_token)},
        {"generate_ms", to_json(m.total)},
        {"cold_start", cold ? nlohmann::json{{"empty_cache", to_json(*cold)}, {"warm_cache", to_json(*warm)}}
                            : nlohmann::json(nullptr)},
        {"peak_device_bytes", peak_bytes},
    };
    if (o.profile) j["profile"] = profile_json(reports, peak);
    if (sessions)
      j["batch_session"] = {{"ctx_size", sessions->positions},
                            {"generate",
                             {{"decode_ms_per_step", to_json(m.decode_step)},
                              {"decode_tokens_per_s", to_json(m.tokens_per_s)},
                              {"keys", sessions->generate_keys},
                              {"program", to_json(sessions->generate_program)}}},
                            {"pipelined", to_json(sessions->pipelined)},
                            {"one_at_a_time", to_json(sessions->one_at_a_time)},
                            {"program", to_json(sessions->session_program)}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }

  std::printf("smolvk bench on %s (%s, %s)\n", caps.name.c_str(), caps.device_type.c_str(), caps.vendor.c_str());
  std::printf("model: %s, %s weights, %.1f M parameters (%.1f MiB)\n",
              o.model_dir.empty() ? ("shape " + o.shape).c_str() : o.model_dir.c_str(), dtype.c_str(),
              double(model.parameter_count()) / 1e6, double(model.weight_bytes()) / (1 << 20));
  std::printf(
      "batch %d × (%d tile(s) × %lld image tokens, prompt %d tokens, %d new tokens); "
      "%d warmup + %d reps\n\n",
      o.batch, o.tiles, (long long)model.config().image_seq_len(), s.prompt_tokens(), o.new_tokens, o.warmup, o.reps);
  std::printf("  %-32s %12s %12s %12s\n", "", "min", "median", "max");
  std::printf("%s", stat_row("image encode ms", m.encode).c_str());
  if (m.encode) {
    std::printf("%s", stat_row("  buffers + pixels ms", m.encode_host.upload).c_str());
    std::printf("%s", stat_row("  build + record ms", m.encode_host.record).c_str());
    std::printf("%s", stat_row("  waiting on the GPU ms", m.encode_host.run).c_str());
  }
  // With images the prefill's inputs and recording happen while the encoder runs (inside
  // image encode ms); prefill ms is then the wait for the GPU after the encoder.
  const char* during = m.encode ? " (in encode)" : "";
  std::printf("%s", stat_row("prefill ms", m.prefill).c_str());
  std::printf("%s", stat_row(std::string("  buffers + ids") + during + " ms", m.prefill_host.upload).c_str());
  std::printf("%s", stat_row(std::string("  build + record") + during + " ms", m.prefill_host.record).c_str());
  std::printf("%s", stat_row("  waiting on the GPU ms", m.prefill_host.run).c_str());
  std::printf("%s", stat_row("decode ms/step", m.decode_step).c_str());
  std::printf("%s", stat_row("decode tokens/s", m.tokens_per_s).c_str());
  std::printf("%s", stat_row("time to first token ms", m.first_token).c_str());
  std::printf("%s", stat_row("generate ms", m.total).c_str());
  if (cold) {
    std::printf("\ncold start (context + first generate, weights excluded)  %12s %12s\n", "empty cache", "warm cache");
    auto row = [](const char* label, double a, double b) { std::printf("  %-54s %12.1f %12.1f\n", label, a, b); };
    row("context created ms", cold->context_ms, warm->context_ms);
    row("to first token ms", cold->first_token_ms, warm->first_token_ms);
    row("pipelines ready ms (2-token generate done)", cold->pipelines_ready_ms, warm->pipelines_ready_ms);
    row("weights ms (generated or loaded, uploaded)", cold->weights_ms, warm->weights_ms);
    std::printf("  %-54s %12u %12u\n", "pipelines created", cold->cache.pipelines_created,
                warm->cache.pipelines_created);
    std::printf("  %-54s %12llu %12llu\n", "pipeline cache bytes loaded", (unsigned long long)cold->cache.loaded_bytes,
                (unsigned long long)warm->cache.loaded_bytes);
  }
  if (sessions) {
    const SessionReport& r = *sessions;
    std::printf(
        "\nBatchSession (smolvk serve's decode path): %d request(s) admitted together, %d steps, %lld KV positions "
        "per slot\n",
        o.batch, o.new_tokens - 1, (long long)r.positions);
    std::printf("  %-44s %12s %12s %12s\n", "", "min", "median", "max");
    auto row = [](const std::string& label, const std::optional<Stats>& st, double scale = 1) {
      if (!st)
        std::printf("  %-44s %12s\n", label.c_str(), "n/a");
      else
        std::printf("  %-44s %12.3f %12.3f %12.3f\n", label.c_str(), st->min * scale, st->median * scale,
                    st->max * scale);
    };
    row("generate decode ms/step", m.decode_step);
    row("session decode ms/step, pipelined", r.pipelined.ms_per_step);
    row("session decode ms/step, one step at a time", r.one_at_a_time.ms_per_step);
    row("generate decode tokens/s", m.tokens_per_s);
    row("session decode tokens/s, pipelined", r.pipelined.tokens_per_s);
    row("session decode tokens/s, one step at a time", r.one_at_a_time.tokens_per_s);
    for (const auto* mode : {&r.pipelined, &r.one_at_a_time}) {
      std::printf("  host split of one step() µs, %s:\n", mode == &r.pipelined ? "pipelined" : "one step at a time");
      row("  blocked on the GPU (wait)", mode->wait);
      row("  ids read back + counted", mode->count);
      row("  next step: key, program lookup, params", mode->prepare);
      row("  recording a new program", mode->record);
      row("  vkQueueSubmit", mode->submit);
      row("  detokenize", mode->text);
    }
    std::printf("  decode program (one run with timestamps)     %12s %12s %12s\n", "dispatches", "keys", "GPU µs");
    std::printf("  %-44s %12zu %12lld %12.1f\n", "generate", r.generate_program.dispatches, (long long)r.generate_keys,
                r.generate_program.gpu_us);
    std::printf("  %-44s %12zu %12lld %12.1f\n", "session", r.session_program.dispatches,
                (long long)r.pipelined.key_bound + 1, r.session_program.gpu_us);
  }
  std::printf("\npeak device memory: %.1f MiB\n", double(peak_bytes) / (1 << 20));
  if (o.profile) std::printf("\n%s", profile_table(reports, peak, o.top).c_str());
  if (!o.trace_file.empty()) std::printf("\ntrace written to %s\n", o.trace_file.c_str());
  return 0;
}

}  // namespace smolvk::cli
