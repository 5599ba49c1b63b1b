// smolvk profile: GPU time of every dispatch of one generate(), per op and per shader
// variant, as tables (or JSON), and optionally a Chrome trace.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "apps/cli/bench_session.h"
#include "apps/cli/commands.h"
#include "apps/cli/profile_report.h"

namespace smolvk::cli {

int cmd_profile(const std::vector<std::string>& args) {
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    std::printf("%s", bench_usage(true).c_str());
    return 0;
  }
  BenchOptions o;
  try {
    o = parse_bench_options(args, true);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "smolvk profile: %s\n\n%s", e.what(), bench_usage(true).c_str());
    return 2;
  }
  BenchSession s(o);
  s.start();
  const Capabilities& caps = s.context().caps();
  if (!caps.timestamps)
    throw std::runtime_error("device " + caps.name + " has no compute-queue timestamps: nothing to profile");
  for (int i = 0; i < o.warmup; ++i) s.run(false);
  RepResult r = s.run(true);
  s.print_validation_messages();
  const DevicePeak peak = device_peak(caps.name, o.peak_gbps, o.peak_gflops);
  const auto reports = aggregate_profile(r.profile);

  if (!o.trace_file.empty()) {
    std::ofstream out(o.trace_file);
    out << chrome_trace(r.profile, caps.name).dump() << "\n";
    if (!out) throw std::runtime_error(o.trace_file + ": cannot write the trace file");
  }
  if (o.json) {
    nlohmann::json j = profile_json(reports, peak);
    j["command"] = "profile";
    j["device"] = caps.name;
    j["settings"] = {
        {"batch", o.batch}, {"tiles", o.tiles}, {"prompt_tokens", s.prompt_tokens()}, {"new_tokens", o.new_tokens}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("smolvk profile on %s: batch %d, %d tile(s), prompt %d tokens, %d new tokens\n", caps.name.c_str(),
              o.batch, o.tiles, s.prompt_tokens(), o.new_tokens);
  std::printf("wall: encode %.2f ms, prefill %.2f ms, decode %.2f ms (%d steps, timestamps on)\n", r.timings.encode_ms,
              r.timings.prefill_ms, r.timings.decode_ms, std::max(0, o.new_tokens - 1));
  std::printf("%s", profile_table(reports, peak, o.top).c_str());
  if (!o.trace_file.empty()) std::printf("\ntrace written to %s\n", o.trace_file.c_str());
  return 0;
}

}  // namespace smolvk::cli
