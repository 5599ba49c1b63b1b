// pixel_values parity with transformers' PIL-backend processor on every golden request.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "loader/image.h"
#include "loader/npy.h"
#include "loader/preprocess.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;

// One 8-bit step after normalisation with mean/std 0.5 is 2/255 = 0.00784.
constexpr double kMaxPixelError = 0.0079;

std::vector<fs::path> golden_cases() {
  std::vector<fs::path> cases;
  if (!fs::is_directory(test::data_dir())) return cases;
  for (const auto& e : fs::directory_iterator(test::data_dir()))
    if (fs::exists(e.path() / "golden" / "golden.json")) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  return cases;
}

TEST(PreprocessGolden, PixelValuesMatchTransformers) {
  const auto cases = golden_cases();
  ASSERT_GE(cases.size(), 3u) << "the committed golden fixtures under " << test::data_dir() << " are missing";
  int checked = 0;
  double worst = 0;
  for (const fs::path& dir : cases) {
    const fs::path golden = dir / "golden";
    const auto g = nlohmann::json::parse(std::ifstream(golden / "golden.json"));
    const ProcessorConfig cfg = ProcessorConfig::load(dir);
    for (const auto& r : g.at("requests")) {
      const std::string name = dir.filename().string() + "/" + r.value("name", "?");
      // Direct model calls carry hand-made pixel_values that no processor produced.
      if (!r.contains("pixel_values") || !r["pixel_values"].is_string() || r.value("direct_call", false)) continue;
      SCOPED_TRACE(name);
      const fs::path images_dir = golden / r.value("images_dir", std::string("../../images"));
      std::vector<std::vector<Image>> rows;
      for (const auto& row : r.at("images")) {
        rows.emplace_back();
        for (const auto& file : row) rows.back().push_back(load_image(images_dir / file.get<std::string>()));
      }
      const ProcessedBatch b = preprocess_batch(rows, cfg);

      const NpyArray ref = read_npy(golden / r["pixel_values"].get<std::string>());
      ASSERT_EQ(ref.shape, (std::vector<int64_t>{b.batch, b.max_tiles, 3, b.height, b.width}));
      ASSERT_EQ(ref.floats.size(), b.pixel_values.size());
      // +inf (a failure) on NaN/Inf in either array: test_util.h
      const double max_err = test::max_abs_error(ref.floats, b.pixel_values);
      const size_t worst_at = test::worst_index(ref.floats, b.pixel_values);
      EXPECT_LE(max_err, kMaxPixelError) << "at flat index " << worst_at << " "
                                         << test::compare_problem(ref.floats, b.pixel_values);
      worst = std::max(worst, max_err);
      std::cout << "[ golden   ] " << name << ": " << b.max_tiles << " tiles of " << b.height << "x" << b.width
                << ", max |pixel error| " << max_err << "\n";

      if (r.contains("pixel_attention_mask") && r["pixel_attention_mask"].is_string()) {
        const NpyArray mask = read_npy(golden / r["pixel_attention_mask"].get<std::string>());
        ASSERT_EQ(mask.ints.size(), b.pixel_mask.size());
        for (size_t i = 0; i < mask.ints.size(); ++i)
          ASSERT_EQ(mask.ints[i], int64_t(b.pixel_mask[i])) << "mask index " << i;
      }
      for (size_t row = 0; row < b.grids.size(); ++row)
        for (size_t im = 0; im < b.grids[row].size(); ++im) {
          EXPECT_EQ(b.grids[row][im].rows, r.at("rows")[row][im].get<int>()) << "row " << row << " image " << im;
          EXPECT_EQ(b.grids[row][im].cols, r.at("cols")[row][im].get<int>()) << "row " << row << " image " << im;
        }
      ++checked;
    }
  }
  std::cout << "[ golden   ] " << checked << " requests, max |pixel error| over all: " << worst << "\n";
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace smolvk
