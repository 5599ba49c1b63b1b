// `smolvk info --model DIR` on committed checkpoint folders: with their weights (parameters from
// the safetensors headers) and as config files only (parameters computed from config.json),
// which must agree.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "tests/apps/cli_test_util.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_cli;

// A folder with only the text files of `src` (no safetensors), removed when done.
struct ConfigOnlyCopy {
  fs::path dir;
  explicit ConfigOnlyCopy(const fs::path& src) {
    dir =
        fs::temp_directory_path() / ("smolvk_info_model_" + std::to_string(::getpid()) + "_" + src.filename().string());
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(src))
      if (e.is_regular_file() && e.path().extension() == ".json" &&
          e.path().filename() != "model.safetensors.index.json")
        fs::copy_file(e.path(), dir / e.path().filename());
  }
  ~ConfigOnlyCopy() { fs::remove_all(dir); }
};

json info_json(const fs::path& dir) {
  const test::CliRun r = run_cli("info --json --model " + dir.string());
  EXPECT_EQ(r.code, 0) << r.err;
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out;
    return json::object();
  }
}

TEST(InfoModel, Idefics3FixtureShapesAndTiles) {
  const fs::path dir = test::data_dir() / "idefics3_f32";
  const test::CliRun r = run_cli("info --model " + dir.string());
  ASSERT_EQ(r.code, 0) << r.err;
  // tests/data/README.md: vision 48 wide, image 32, patch 4 (8x8), scale 2 -> 16 tokens per tile;
  // processor longest_edge 96, tile 32: a 2048 x 2048 image becomes 96 x 96, 3 x 3 tiles + 1.
  EXPECT_NE(r.out.find("architecture: Idefics3ForConditionalGeneration"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("image 32 px, patch 4 px -> 8x8 patches"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pixel shuffle 2 -> 16 tokens per tile"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tile 32 px, resize longest edge 96"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a 2048x2048 image: 3x3 tiles + global = 10 tiles, 160 image tokens"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("weights: model.safetensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(safetensors headers)"), std::string::npos) << r.out;
}

// --dtype bf16: the memory as `smolvk run --dtype bf16` loads the weights (f32 tensors as bf16).
TEST(InfoModel, DtypeBf16HalvesFloat32Weights) {
  const fs::path dir = test::data_dir() / "smolvlm_f32_s3";
  const json f32 = info_json(dir);
  const test::CliRun jr = run_cli("info --json --model " + dir.string() + " --dtype bf16");
  ASSERT_EQ(jr.code, 0) << jr.err;
  const json bf16 = json::parse(jr.out);
  ASSERT_TRUE(f32.contains("weights") && bf16.contains("weights")) << f32.dump(1) << bf16.dump(1);
  EXPECT_EQ(f32["weights"]["dtype"], "F32");
  EXPECT_EQ(bf16["weights"]["dtype"], "BF16");
  EXPECT_EQ(bf16["weights"]["device_bytes"].get<uint64_t>() * 2, f32["weights"]["device_bytes"].get<uint64_t>());
  EXPECT_EQ(bf16["weights"]["parameters"], f32["weights"]["parameters"]);
  const test::CliRun r = run_cli("info --model " + dir.string() + " --dtype bf16");
  EXPECT_NE(r.out.find("--dtype bf16: the checkpoint's f32 tensors kept as bf16"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("precision:"), std::string::npos) << r.out;  // bf16 weights: exact as f16
  // f32 weights: what the tensor cores do with them, and the two switches that keep them.
  const test::CliRun f = run_cli("info --model " + dir.string());
  EXPECT_NE(f.out.find("the large GEMMs take these f32 weights as f16"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("SMOLVK_TUNE_SPLIT_F32_WEIGHTS=1"), std::string::npos) << f.out;
  const test::CliRun bad = run_cli("info --model " + dir.string() + " --dtype f16");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--dtype 'f16': expected auto"), std::string::npos) << bad.err;
}

TEST(InfoModel, ParametersFromConfigMatchTheWeights) {
  for (const char* name : {"idefics3_f32", "smolvlm_bf16", "smolvlm_f32_s3"}) {
    SCOPED_TRACE(name);
    const fs::path dir = test::data_dir() / name;
    const json with = info_json(dir);
    ASSERT_TRUE(with.contains("weights")) << with.dump();
    EXPECT_TRUE(with["weights"]["present"].get<bool>());
    const uint64_t params = with["weights"]["parameters"].get<uint64_t>();
    EXPECT_GT(params, 0u);
    const std::string dtype = with["weights"]["dtype"].get<std::string>();
    EXPECT_EQ(with["weights"]["device_bytes"].get<uint64_t>(), params * (dtype == "F32" ? 4 : 2));

    const ConfigOnlyCopy copy(dir);
    const json without = info_json(copy.dir);
    ASSERT_TRUE(without.contains("weights")) << without.dump();
    EXPECT_FALSE(without["weights"]["present"].get<bool>());
    EXPECT_EQ(without["weights"]["parameters"].get<uint64_t>(), params);
    EXPECT_EQ(without["tokens_per_tile"], with["tokens_per_tile"]);
    EXPECT_EQ(without["image_2048x2048"], with["image_2048x2048"]);

    const test::CliRun text = run_cli("info --model " + copy.dir.string());
    EXPECT_EQ(text.code, 0) << text.err;
    EXPECT_NE(text.out.find("weights: no weights"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("(computed from config.json)"), std::string::npos) << text.out;
  }
}

TEST(InfoModel, FolderWithoutConfigJsonIsAnError) {
  const fs::path dir = fs::temp_directory_path() / ("smolvk_info_model_empty_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const test::CliRun r = run_cli("info --model " + dir.string());
  fs::remove_all(dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find((dir / "config.json").string()), std::string::npos) << r.err;
}

}  // namespace
}  // namespace smolvk
