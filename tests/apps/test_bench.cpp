// `smolvk bench` and `smolvk profile` end to end, as a user runs them: the built binary
// (next to this test binary: ../apps/smolvk, or $SMOLVK_CLI) on the "tiny" shape.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/apps/cli_test_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using smolvk::test::CliRun;
using smolvk::test::run_cli;

json parse(const CliRun& r) {
  EXPECT_EQ(r.code, 0) << r.err;
  try {
    return json::parse(r.out);
  } catch (const json::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << r.out << "\n" << r.err;
    return json::object();
  }
}

void expect_stats(const json& j, const char* key) {
  SCOPED_TRACE(key);
  ASSERT_TRUE(j.contains(key) && j[key].is_object()) << j.dump(1);
  const double lo = j[key]["min"], mid = j[key]["median"], hi = j[key]["max"];
  EXPECT_GT(lo, 0.0);
  EXPECT_LE(lo, mid);
  EXPECT_LE(mid, hi);
}

TEST(BenchCli, JsonHasEveryField) {
  const json j = parse(run_cli("bench --shape tiny --batch 2 --tiles 2 --new-tokens 4 --warmup 0 --reps 3 --json"));
  ASSERT_TRUE(j.contains("settings")) << j.dump(1);
  EXPECT_FALSE(j["device"]["name"].get<std::string>().empty());
  EXPECT_EQ(j["settings"]["batch"], 2);
  EXPECT_EQ(j["settings"]["tiles"], 2);
  EXPECT_EQ(j["settings"]["prompt_tokens"], 2 * 4 + 20);  // tiny: 4 image tokens per tile
  EXPECT_EQ(j["settings"]["reps"], 3);
  EXPECT_EQ(j["model"]["dtype"], "bf16");
  EXPECT_EQ(j["model"]["image_seq_len"], 4);
  for (const char* k :
       {"encode_ms", "prefill_ms", "decode_ms_per_step", "decode_tokens_per_s", "first_token_ms", "generate_ms"})
    expect_stats(j, k);
  // tokens/s is batch / step time, per rep; with 3 reps the medians are of the same rep.
  const double step = j["decode_ms_per_step"]["median"], tps = j["decode_tokens_per_s"]["median"];
  EXPECT_NEAR(tps, 2 * 1000.0 / step, 1e-9 * tps);

  const json& empty = j["cold_start"]["empty_cache"];
  const json& warm = j["cold_start"]["warm_cache"];
  EXPECT_EQ(empty["cache_bytes_loaded"], 0);
  EXPECT_GT(warm["cache_bytes_loaded"].get<double>(), 0.0);
  EXPECT_GT(empty["pipelines_created"].get<int>(), 0);
  for (const json* c : {&empty, &warm})
    for (const char* k : {"context_ms", "weights_ms", "first_token_ms", "pipelines_ready_ms"})
      EXPECT_GT((*c)[k].get<double>(), 0.0) << k;
  EXPECT_GT(empty["pipelines_ready_ms"].get<double>(), empty["first_token_ms"].get<double>());
  EXPECT_GE(j["peak_device_bytes"].get<double>(), j["model"]["weight_bytes"].get<double>());
}

// Sums of the "%" column of every table section printed by `profile` (the top rows plus
// the "(N others)" row).
std::vector<double> table_percent_sums(const std::string& text) {
  std::vector<double> sums;
  std::istringstream in(text);
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("  op ", 0) == 0 || line.rfind("  shader variant ", 0) == 0 ||
        line.rfind("  layer op (one shape) ", 0) == 0) {
      in_table = true;
      sums.push_back(0);
      continue;
    }
    if (line.rfind("  ", 0) != 0) {
      in_table = false;
      continue;
    }
    if (!in_table) continue;
    // columns from the right: %peakFL %peakBW GFLOP/s GB/s % mean total calls
    std::vector<std::string> cols;
    std::istringstream ls(line);
    for (std::string c; ls >> c;) cols.push_back(c);
    if (cols.size() >= 8) sums.back() += std::stod(cols[cols.size() - 5]);
  }
  return sums;
}

TEST(ProfileCli, TablesSumToTheWholePhaseAndTraceHasOneSlicePerDispatch) {
  const fs::path trace = fs::temp_directory_path() / ("smolvk_test_trace_" + std::to_string(::getpid()) + ".json");
  const json j = parse(run_cli(
      "profile --shape tiny --tiles 1 --new-tokens 3 --warmup 0 --json --peak-gbps 100 --peak-gflops 1000 --trace " +
      trace.string()));
  ASSERT_TRUE(j.contains("phases")) << j.dump(1);
  EXPECT_EQ(j["peak"]["gbps"], 100.0);
  const json& top = j["phases"][0]["by_op"][0];
  EXPECT_NEAR(top["peak_bandwidth_fraction"].get<double>(), top["gbps"].get<double>() / 100.0, 1e-12);
  EXPECT_NEAR(top["peak_flops_fraction"].get<double>(), top["gflops"].get<double>() / 1000.0, 1e-12);
  std::map<std::string, size_t> dispatches;
  for (const json& p : j["phases"]) {
    const std::string phase = p["phase"];
    SCOPED_TRACE(phase);
    dispatches[phase] = p["dispatches"];
    EXPECT_GT(p["dispatches"].get<size_t>(), 0u);
    EXPECT_GT(p["gpu_us"].get<double>(), 0.0);
    for (const char* by : {"by_op", "by_shader", "by_layer_op"}) {
      double percent = 0, us = 0;
      size_t calls = 0;
      for (const json& r : p[by]) {
        percent += r["percent"].get<double>();
        us += r["total_us"].get<double>();
        calls += r["calls"].get<size_t>();
      }
      EXPECT_NEAR(percent, 100.0, 1e-6) << by;
      EXPECT_NEAR(us, p["gpu_us"].get<double>(), 1e-6 * us) << by;
      EXPECT_EQ(calls, p["dispatches"].get<size_t>()) << by;
    }
  }
  EXPECT_EQ(dispatches.size(), 3u);  // encode, prefill, decode
  EXPECT_TRUE(dispatches.count("encode") && dispatches.count("prefill") && dispatches.count("decode"));
  // The layer ops fold the layer index: the tiny shape's vision encoder has several layers, so
  // its qkv projections are one row with one call per layer.
  bool folded = false;
  for (const json& r : j["phases"][0]["by_layer_op"])
    if (r["key"] == "vision.L*.qkv_proj") folded = r["calls"].get<int>() > 1;
  EXPECT_TRUE(folded) << j["phases"][0]["by_layer_op"].dump(1);

  std::ifstream in(trace);
  ASSERT_TRUE(in) << trace;
  json t;
  ASSERT_NO_THROW(t = json::parse(in));
  fs::remove(trace);
  std::map<int, std::string> track_name;
  std::map<int, std::vector<const json*>> slices;
  for (const json& e : t["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name")
      track_name[e["tid"].get<int>()] = e["args"]["name"].get<std::string>();
    if (e["ph"] == "X") slices[e["tid"].get<int>()].push_back(&e);
  }
  ASSERT_EQ(slices.size(), dispatches.size());
  for (const auto& [tid, list] : slices) {
    const std::string phase = track_name[tid];
    SCOPED_TRACE(phase);
    EXPECT_EQ(list.size(), dispatches[phase]);
    for (size_t i = 0; i < list.size(); ++i) {
      const json& e = *list[i];
      EXPECT_FALSE(e["name"].get<std::string>().empty());
      EXPECT_FALSE(e["args"]["shader"].get<std::string>().empty());
      EXPECT_EQ(e["args"]["grid"].size(), 3u);
      EXPECT_GE(e["dur"].get<double>(), 0.0);
      if (i > 0) {  // back to back by GPU time
        EXPECT_NEAR(e["ts"].get<double>(), (*list[i - 1])["ts"].get<double>() + (*list[i - 1])["dur"].get<double>(),
                    1e-6);
      }
    }
  }

  const CliRun table = run_cli("profile --shape tiny --tiles 1 --new-tokens 3 --warmup 0 --top 3");
  ASSERT_EQ(table.code, 0) << table.err;
  const auto sums = table_percent_sums(table.out);
  ASSERT_EQ(sums.size(), 9u) << table.out;  // op, shader and layer-op tables for 3 phases
  for (double s : sums) EXPECT_NEAR(s, 100.0, 0.05) << table.out;
  EXPECT_NE(table.out.find(" others)"), std::string::npos) << table.out;
}

TEST(BenchCli, RunsACheckpointDirectory) {
  const std::string dir = (fs::path(SMOLVK_TEST_DATA) / "smolvlm_f32_s3").string();
  const json j = parse(run_cli("bench --model " + dir + " --new-tokens 3 --warmup 0 --reps 1 --no-cold-start --json"));
  ASSERT_TRUE(j.contains("model")) << j.dump(1);
  EXPECT_EQ(j["model"]["source"], dir);
  EXPECT_EQ(j["model"]["image_seq_len"], 9);  // 36 px / patch 4 = 9×9 patches, scale 3
  EXPECT_EQ(j["settings"]["prompt_tokens"], 9 + 20);
  EXPECT_TRUE(j["cold_start"].is_null());
  expect_stats(j, "decode_ms_per_step");
  // --dtype bf16: the checkpoint's f32 tensors (all of them here) kept in half the bytes.
  const json h =
      parse(run_cli("bench --model " + dir + " --dtype bf16 --new-tokens 3 --warmup 0 --reps 1 --no-cold-start --json"));
  EXPECT_EQ(h["model"]["weight_bytes"].get<uint64_t>() * 2, j["model"]["weight_bytes"].get<uint64_t>());
  EXPECT_EQ(h["model"]["parameters"], j["model"]["parameters"]);
  EXPECT_EQ(h["model"]["dtype"], "float32, f32 as bf16");
}

// --batch-session: BatchSession's decode step (the server's path) beside generate's, on the same
// batch; both decode programs plan the same keys and run the same dispatches.
TEST(BenchCli, BatchSessionBesideGenerate) {
  const std::string dir = (fs::path(SMOLVK_TEST_DATA) / "smolvlm_f32_s3").string();
  const json j = parse(run_cli("bench --model " + dir +
                               " --batch 2 --new-tokens 8 --warmup 0 --reps 2 --no-cold-start --batch-session --json"));
  ASSERT_TRUE(j.contains("batch_session")) << j.dump(1);
  const json& b = j["batch_session"];
  EXPECT_EQ(b["ctx_size"], 1024);
  EXPECT_EQ(b["generate"]["decode_ms_per_step"], j["decode_ms_per_step"]);
  EXPECT_EQ(b["generate"]["keys"], 48);  // 29 prompt + 8 new tokens, rounded up to 16
  for (const char* mode : {"pipelined", "one_at_a_time"}) {
    SCOPED_TRACE(mode);
    expect_stats(b[mode], "decode_ms_per_step");
    expect_stats(b[mode], "decode_tokens_per_s");
    for (const char* k : {"wait_gpu", "count_ids", "prepare_next", "submit", "detokenize"})
      EXPECT_TRUE(b[mode]["host_us"][k].is_object()) << k << ": " << b.dump(1);
    EXPECT_EQ(b[mode]["key_bound"], 47);  // the last position fed is 29 + 6: 36 keys, rounded up to 16
    EXPECT_EQ(b[mode]["dispatches"], b["generate"]["program"]["dispatches"]);
  }
  EXPECT_GT(b["generate"]["program"]["dispatches"].get<int>(), 0);
  EXPECT_EQ(b["program"]["dispatches"], b["generate"]["program"]["dispatches"]);
  EXPECT_GT(b["program"]["gpu_us"].get<double>(), 0.0);
  EXPECT_FALSE(j.contains("profile"));  // the profiled runs behind the programs print no table
}

TEST(BenchCli, BadOptionsAreNamedInTheError) {
  CliRun r = run_cli("bench --shape huge");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("'huge'"), std::string::npos) << r.err;
  r = run_cli("bench --shape tiny --tiles 2 --prompt-tokens 5 --no-cold-start --json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--prompt-tokens 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("8 image tokens"), std::string::npos) << r.err;
  r = run_cli("bench --shape tiny --batch zero");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--batch zero"), std::string::npos) << r.err;
  r = run_cli("bench --model " + (fs::path(SMOLVK_TEST_DATA) / "smolvlm_f32_s3").string() + " --dtype f16");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--dtype f16 with --model: expected auto"), std::string::npos) << r.err;
  r = run_cli("run --dtype f16 --prompt hi");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--dtype 'f16': expected auto"), std::string::npos) << r.err;
  r = run_cli("bench --shape tiny --ctx-size 64");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--ctx-size 64: only with --batch-session"), std::string::npos) << r.err;
  r = run_cli("bench --shape tiny --batch-session --ctx-size 10 --no-cold-start --warmup 0 --reps 1");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--ctx-size 10 is less than the prompt's 24 tokens + --new-tokens 32"), std::string::npos)
      << r.err;
}

}  // namespace

// `smolvk info --profile NAME` clamps the device and prints the kernels that follow; an unknown
// profile is an error naming the known ones.
TEST(InfoCli, ProfileShowsTheClampAndTheKernelChoices) {
  const CliRun r = run_cli("info --profile mali-g78");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("clamped to device profile mali-g78"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("subgroup 16 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("float atomics off"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vision GEMM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("matmul_tiled_bf16"), std::string::npos) << r.out;  // no tensor cores there
  const CliRun bad = run_cli("info --profile voodoo2");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("mali-g78"), std::string::npos) << bad.err;
  const CliRun list = run_cli("info --profiles");
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("Vulkan-Profiles"), std::string::npos) << list.out;
}

// An unknown '/command' in `smolvk chat` is reported and not sent to the model; '//' escapes.
TEST(ChatCli, UnknownCommandsAreReportedNotSent) {
  const fs::path input = fs::temp_directory_path() / ("smolvk_chat_in_" + std::to_string(::getpid()));
  {
    std::ofstream f(input);
    f << "/imgae cat.png\n//not a command\n/quit\n";
  }
  const std::string dir = (fs::path(SMOLVK_TEST_DATA) / "smolvlm_f32_s3").string();
  const CliRun r = run_cli("chat --model " + dir + " --max-new-tokens 2 < " + input.string());
  fs::remove(input);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("unknown command '/imgae'"), std::string::npos) << r.err;
  // Only the escaped line became a turn: one answer with its token count.
  size_t turns = 0;
  for (size_t at = r.err.find(" tokens, "); at != std::string::npos; at = r.err.find(" tokens, ", at + 1)) ++turns;
  EXPECT_EQ(turns, 1u) << r.err;
}
