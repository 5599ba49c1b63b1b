#include "apps/cli/profile_report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>

namespace smolvk::cli {
namespace {

struct KnownDevice {
  const char* name_part;  // first match wins: specific variants before the family
  const char* label;
  double gbps, gflops;
};
// NVIDIA spec sheets: HBM bandwidth and dense FP16/BF16 tensor-core throughput.
constexpr KnownDevice kKnownDevices[] = {
    {"H100 PCIe", "NVIDIA H100 PCIe spec", 2000, 756e3}, {"H100 NVL", "NVIDIA H100 NVL spec", 3900, 835e3},
    {"H200 NVL", "NVIDIA H200 NVL spec", 4800, 835e3},   {"H100", "NVIDIA H100 SXM spec", 3350, 989e3},
    {"H200", "NVIDIA H200 SXM spec", 4800, 989e3},
};

template <typename Key>
std::vector<ProfileRow> group(const std::vector<DispatchTiming>& d, double phase_ns, Key key_of) {
  std::map<std::string, ProfileRow> rows;
  for (const auto& t : d) {
    const std::string key = key_of(t);
    ProfileRow& r = rows[key];
    r.key = key;
    ++r.calls;
    r.ns += t.ns;
    r.flops += t.flops;
    r.bytes += t.bytes;
  }
  std::vector<ProfileRow> out;
  for (auto& [k, r] : rows) {
    r.percent = phase_ns > 0 ? 100.0 * r.ns / phase_ns : 0;
    out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(), [](const ProfileRow& a, const ProfileRow& b) { return a.ns > b.ns; });
  return out;
}

std::string fraction(double achieved, double peak) {
  if (peak <= 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * achieved / peak);
  return buf;
}

void append_rows(std::string& out, const char* title, const std::vector<ProfileRow>& rows, const DevicePeak& peak,
                 size_t top_n) {
  std::vector<ProfileRow> shown(rows.begin(), rows.begin() + std::min(top_n, rows.size()));
  if (rows.size() > shown.size()) {
    ProfileRow rest;
    rest.key = "(" + std::to_string(rows.size() - shown.size()) + " others)";
    for (size_t i = shown.size(); i < rows.size(); ++i) {
      rest.calls += rows[i].calls;
      rest.ns += rows[i].ns;
      rest.flops += rows[i].flops;
      rest.bytes += rows[i].bytes;
      rest.percent += rows[i].percent;
    }
    shown.push_back(rest);
  }
  size_t width = 12;
  for (const auto& r : shown) width = std::max(width, r.key.size());
  width = std::min<size_t>(width, 48);
  char line[512];
  std::snprintf(line, sizeof line, "  %-*s %6s %11s %9s %7s %9s %9s %8s %8s\n", int(width), title, "calls", "total µs",
                "mean µs", "%", "GB/s", "GFLOP/s", "%peakBW", "%peakFL");
  out += line;
  for (const auto& r : shown) {
    std::string key = r.key.size() > width ? r.key.substr(0, width - 1) + "~" : r.key;
    std::snprintf(line, sizeof line, "  %-*s %6d %11.1f %9.2f %7.2f %9.1f %9.1f %8s %8s\n", int(width), key.c_str(),
                  r.calls, r.ns / 1e3, r.mean_us(), r.percent, r.gbps(), r.gflops(),
                  fraction(r.gbps(), peak.gbps).c_str(), fraction(r.gflops(), peak.gflops).c_str());
    out += line;
  }
}

nlohmann::json rows_json(const std::vector<ProfileRow>& rows, const DevicePeak& peak) {
  nlohmann::json a = nlohmann::json::array();
  auto frac = [](double v, double p) { return p > 0 ? nlohmann::json(v / p) : nlohmann::json(nullptr); };
  for (const auto& r : rows)
    a.push_back({{"key", r.key},
                 {"calls", r.calls},
                 {"total_us", r.ns / 1e3},
                 {"mean_us", r.mean_us()},
                 {"percent", r.percent},
                 {"flops", r.flops},
                 {"bytes", r.bytes},
                 {"gbps", r.gbps()},
                 {"gflops", r.gflops()},
                 {"peak_bandwidth_fraction", frac(r.gbps(), peak.gbps)},
                 {"peak_flops_fraction", frac(r.gflops(), peak.gflops)}});
  return a;
}

}  // namespace

std::string layer_op_name(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size();) {
    // ".L<digits>." -> ".L*."
    if (name.compare(i, 2, ".L") == 0 && i + 2 < name.size() && std::isdigit(static_cast<unsigned char>(name[i + 2]))) {
      size_t j = i + 2;
      while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
      if (j < name.size() && name[j] == '.') {
        out += ".L*";
        i = j;
        continue;
      }
    }
    out += name[i++];
  }
  return out;
}

DevicePeak device_peak(const std::string& device_name) {
  for (const auto& k : kKnownDevices)
    if (device_name.find(k.name_part) != std::string::npos) return {k.gbps, k.gflops, k.label};
  return {};
}

DevicePeak device_peak(const std::string& device_name, double override_gbps, double override_gflops) {
  DevicePeak p = device_peak(device_name);
  if (override_gbps > 0 || override_gflops > 0)
    p.source = p.source.empty() ? "command line" : p.source + " + command line";
  if (override_gbps > 0) p.gbps = override_gbps;
  if (override_gflops > 0) p.gflops = override_gflops;
  return p;
}

std::vector<PhaseReport> aggregate_profile(const std::vector<PhaseProfile>& profile) {
  std::vector<PhaseReport> out;
  for (const auto& p : profile) {
    PhaseReport r;
    r.phase = p.phase;
    r.dispatches = p.dispatches.size();
    for (const auto& d : p.dispatches) r.ns += d.ns;
    r.by_op = group(p.dispatches, r.ns, [](const DispatchTiming& t) { return t.op; });
    r.by_shader = group(p.dispatches, r.ns, [](const DispatchTiming& t) { return t.shader; });
    r.by_layer_op = group(p.dispatches, r.ns, [](const DispatchTiming& t) { return layer_op_name(t.name); });
    out.push_back(std::move(r));
  }
  return out;
}

std::string profile_table(const std::vector<PhaseReport>& report, const DevicePeak& peak, size_t top_n) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "peak: %s\n",
                peak.gbps > 0 || peak.gflops > 0 ? (std::to_string(int(peak.gbps)) + " GB/s, " +
                                                    std::to_string(int(peak.gflops)) + " GFLOP/s (" + peak.source + ")")
                                                       .c_str()
                                                 : "unknown for this device (give --peak-gbps / --peak-gflops)");
  out += line;
  for (const auto& r : report) {
    std::snprintf(line, sizeof line, "\nphase %s: %zu dispatches, %.1f µs GPU time%s\n", r.phase.c_str(), r.dispatches,
                  r.ns / 1e3, r.phase == "decode" ? " (one step)" : "");
    out += line;
    if (r.dispatches == 0) continue;
    append_rows(out, "op", r.by_op, peak, top_n);
    out += "\n";
    append_rows(out, "shader variant", r.by_shader, peak, top_n);
    out += "\n";
    append_rows(out, "layer op (one shape)", r.by_layer_op, peak, top_n);
  }
  return out;
}

nlohmann::json profile_json(const std::vector<PhaseReport>& report, const DevicePeak& peak) {
  nlohmann::json phases = nlohmann::json::array();
  for (const auto& r : report)
    phases.push_back({{"phase", r.phase},
                      {"dispatches", r.dispatches},
                      {"gpu_us", r.ns / 1e3},
                      {"by_op", rows_json(r.by_op, peak)},
                      {"by_shader", rows_json(r.by_shader, peak)},
                      {"by_layer_op", rows_json(r.by_layer_op, peak)}});
  return {{"peak",
           {{"gbps", peak.gbps > 0 ? nlohmann::json(peak.gbps) : nlohmann::json(nullptr)},
            {"gflops", peak.gflops > 0 ? nlohmann::json(peak.gflops) : nlohmann::json(nullptr)},
            {"source", peak.source}}},
          {"phases", phases}};
}

nlohmann::json chrome_trace(const std::vector<PhaseProfile>& profile, const std::string& device_name) {
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"},
                    {"ph", "M"},
                    {"pid", 1},
                    {"tid", 0},
                    {"args", {{"name", "smolvk GPU (" + device_name + ")"}}}});
  double t_us = 0;
  for (size_t i = 0; i < profile.size(); ++i) {
    const auto& p = profile[i];
    const int tid = int(i) + 1;
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", tid}, {"args", {{"name", p.phase}}}});
    events.push_back(
        {{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", 1}, {"tid", tid}, {"args", {{"sort_index", tid}}}});
    for (const auto& d : p.dispatches) {
      const double dur = d.ns / 1e3;
      nlohmann::json args = {{"op", d.op},
                             {"shader", d.shader},
                             {"grid", {d.groups[0], d.groups[1], d.groups[2]}},
                             {"flops", d.flops},
                             {"bytes", d.bytes},
                             {"gpu_ns", d.ns},
                             {"GB/s", d.ns > 0 ? d.bytes / d.ns : 0.0},
                             {"GFLOP/s", d.ns > 0 ? d.flops / d.ns : 0.0}};
      events.push_back({{"name", d.name},
                        {"cat", d.op},
                        {"ph", "X"},
                        {"pid", 1},
                        {"tid", tid},
                        {"ts", t_us},
                        {"dur", dur},
                        {"args", std::move(args)}});
      t_us += dur;
    }
  }
  return {{"traceEvents", events},
          {"displayTimeUnit", "ns"},
          {"otherData", {{"device", device_name}, {"note", "dispatches laid back to back by GPU time"}}}};
}

}  // namespace smolvk::cli
