#pragma once
// What `smolvk profile` / `--profile` print: Result::profile aggregated per op, per shader
// variant and per layer op (calls, µs, % of the phase, GB/s, GFLOP/s, fraction of the device's peak), as a
// table or JSON, and the dispatches as Chrome trace-event JSON (Perfetto opens it).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/smolvlm.h"

namespace smolvk::cli {

// Spec-sheet peaks; 0 = unknown (the table prints "n/a").
struct DevicePeak {
  double gbps = 0;     // memory bandwidth
  double gflops = 0;   // dense fp16/bf16 tensor-core rate
  std::string source;  // where the numbers came from
};
// From a small table of known devices (H100, H200 variants) by device name.
DevicePeak device_peak(const std::string& device_name);
// The table's peaks with any positive override (--peak-gbps / --peak-gflops) in their place.
DevicePeak device_peak(const std::string& device_name, double override_gbps, double override_gflops);

struct ProfileRow {
  std::string key;  // op family or shader variant
  int calls = 0;
  double ns = 0, flops = 0, bytes = 0;
  double percent = 0;  // of the phase's GPU time
  double mean_us() const { return calls ? ns / 1e3 / calls : 0; }
  double gbps() const { return ns > 0 ? bytes / ns : 0; }
  double gflops() const { return ns > 0 ? flops / ns : 0; }
};

struct PhaseReport {
  std::string phase;
  size_t dispatches = 0;
  double ns = 0;                             // sum of the dispatches' GPU time
  std::vector<ProfileRow> by_op, by_shader;  // largest total first
  // By dispatch name with the layer index folded ("vision.L*.fc1"): one GEMM or attention shape
  // per row, for per-shape TFLOP/s.
  std::vector<ProfileRow> by_layer_op;
};

std::vector<PhaseReport> aggregate_profile(const std::vector<PhaseProfile>& profile);
// "vision.L11.qkv_proj" -> "vision.L*.qkv_proj"; names without a layer index unchanged.
std::string layer_op_name(const std::string& name);

// Per phase, the top `top_n` rows by op, by shader variant and by layer op; the rest are folded into one
// "(N others)" row so the % column always sums to 100.
std::string profile_table(const std::vector<PhaseReport>& report, const DevicePeak& peak, size_t top_n);
nlohmann::json profile_json(const std::vector<PhaseReport>& report, const DevicePeak& peak);

// One track (tid) per phase, phases one after another; one "X" slice per dispatch laid out
// back to back by its GPU time; args carry op, shader, grid, flops, bytes and rates.
nlohmann::json chrome_trace(const std::vector<PhaseProfile>& profile, const std::string& device_name);

}  // namespace smolvk::cli
