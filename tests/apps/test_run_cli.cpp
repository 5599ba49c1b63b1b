// `smolvk run`'s stage-by-stage switches against transformers' own tensors (the committed
// golden of tests/data/smolvlm_f32_s3, written by transformers in float32): the image features
// it dumps are transformers' connector output, and generating from transformers' decoder input
// embeddings gives transformers' logits and greedy ids. tools/reference/precision_stages.py
// uses them to split a difference between the vision encoder and the decoder.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "loader/npy.h"
#include "tests/apps/cli_test_util.h"
#include "tests/golden_json.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;

const fs::path kModel = test::data_dir() / "smolvlm_f32_s3";
const fs::path kGolden = kModel / "golden";

fs::path temp(const std::string& name) {
  return fs::temp_directory_path() / ("smolvk_run_cli_" + std::to_string(::getpid()) + "_" + name);
}

json golden_request(const std::string& name) {
  const json golden = test::read_golden(kModel);  // kept: a temporary's member would not outlive the loop's start
  for (const auto& r : golden["requests"])
    if (r["name"] == name) return r;
  ADD_FAILURE() << "no request " << name << " in " << kGolden;
  return {};
}

// The f32 kernels' bound on logits and features (lavapipe, the brief's fp32 tolerance).
constexpr double kF32Tolerance = 1e-4;

TEST(RunCli, DumpsTheImageFeaturesTransformersSplicesIn) {
  const json g = golden_request("unsplit_squashed");
  const fs::path features = temp("features.npy"), logits = temp("logits.npy");
  const test::CliRun r = run_cli("run --model " + kModel.string() + " --image " +
                                 (test::data_dir() / "images" / "strip_120x40.png").string() +
                                 " --prompt 'Describe the strip.' --max-new-tokens 16 --ignore-eos --json"
                                 " --dump-image-features " +
                                 features.string() + " --dump-logits " + logits.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json out = json::parse(r.out);
  ASSERT_EQ(out["input_ids"], g["input_ids"][0]);  // the same prompt, so the same features are spliced

  const NpyArray got = read_npy(features), ref = read_npy(kGolden / "unsplit_squashed.connector_out.npy");
  EXPECT_EQ(got.shape, ref.shape);  // [tiles, tokens per tile, text hidden]
  EXPECT_EQ(got.shape, (std::vector<int64_t>{1, g["image_seq_len"].get<int64_t>(), 80}));
  EXPECT_LE(test::max_rel_error(ref.floats, got.floats), kF32Tolerance)
      << test::compare_problem(ref.floats, got.floats);
  const NpyArray want_logits = read_npy(kGolden / "unsplit_squashed.logits_last.npy");
  EXPECT_LE(test::max_rel_error(want_logits.floats, read_npy(logits).floats), kF32Tolerance);
  EXPECT_EQ(out["output_ids"], g["greedy_ids"][0]);
  fs::remove(features);
  fs::remove(logits);
}

TEST(RunCli, GeneratesFromTransformersInputEmbeddings) {
  const json g = golden_request("unsplit_squashed");
  const fs::path embeds = kGolden / "unsplit_squashed.inputs_embeds.npy", logits = temp("embeds_logits.npy");
  ASSERT_EQ(read_npy(embeds).shape, (std::vector<int64_t>{1, 28, 80}));  // [1, rows, hidden] taken as it is
  const test::CliRun r = run_cli("run --model " + kModel.string() + " --inputs-embeds " + embeds.string() +
                                 " --max-new-tokens 16 --ignore-eos --json --dump-logits " + logits.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json out = json::parse(r.out);
  EXPECT_TRUE(out["input_ids"].empty());
  EXPECT_EQ(out["timings"]["tiles"], 0);  // no vision encoder: the features are in the embeddings
  EXPECT_EQ(out["timings"]["prompt_tokens"], 28);
  const NpyArray ref = read_npy(kGolden / "unsplit_squashed.logits_last.npy"), got = read_npy(logits);
  EXPECT_LE(test::max_rel_error(ref.floats, got.floats), kF32Tolerance) << test::compare_problem(ref.floats, got.floats);
  EXPECT_EQ(out["output_ids"], g["greedy_ids"][0]);
  fs::remove(logits);
}

TEST(RunCli, InputsEmbedsOfTheWrongShapeOrWithImagesAreRefusedByName) {
  const std::string model = " --model " + kModel.string();
  // pixel_values [1, 1, 3, 36, 36]: not [rows, 80]
  const fs::path wrong = kGolden / "unsplit_squashed.pixel_values.npy";
  test::CliRun r = run_cli("run" + model + " --inputs-embeds " + wrong.string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--inputs-embeds " + wrong.string() + ": expected float32 [rows, 80] or [1, rows, 80]"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("got float32 [1, 1, 3, 36, 36]"), std::string::npos) << r.err;
  // an integer array
  const fs::path ids = kGolden / "unsplit_squashed.pixel_attention_mask.npy";
  r = run_cli("run" + model + " --inputs-embeds " + ids.string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("got a non-float array"), std::string::npos) << r.err;
  // a file that is not there
  r = run_cli("run" + model + " --inputs-embeds /nonexistent/e.npy");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/nonexistent/e.npy"), std::string::npos) << r.err;
  const fs::path embeds = kGolden / "unsplit_squashed.inputs_embeds.npy";
  r = run_cli("run" + model + " --inputs-embeds " + embeds.string() + " --prompt hi");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("exactly one"), std::string::npos) << r.err;
  r = run_cli("run" + model + " --inputs-embeds " + embeds.string() + " --image " +
              (test::data_dir() / "images" / "strip_120x40.png").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--inputs-embeds takes no --image or --video"), std::string::npos) << r.err;
  r = run_cli("run" + model + " --prompt hi --dump-image-features " + temp("none.npy").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--dump-image-features: the request has no image or video"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace smolvk
