// Every input a fuzz target ever crashed on (tests/fuzz/regressions/<target>/) and the hand-made
// seeds (tests/fuzz/seeds/<target>/), replayed through the same harness functions the libFuzzer
// binaries run (tests/fuzz): each must end in a LoadError or in success — no other exception,
// no broken invariant, and, in the -DSMOLVK_SANITIZE=ON build, no sanitizer report.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/fuzz/fuzz_targets.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;

class FuzzReplay : public testing::TestWithParam<fuzz::Target> {};

std::vector<fs::path> inputs_of(const std::string& target) {
  const fs::path fuzz_dir = test::data_dir().parent_path() / "fuzz";
  std::vector<fs::path> out;
  for (const char* kind : {"regressions", "seeds"}) {
    const fs::path d = fuzz_dir / kind / target;
    if (!fs::is_directory(d)) continue;
    for (const auto& e : fs::directory_iterator(d))
      if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_P(FuzzReplay, EveryCommittedInputIsHandled) {
  ASSERT_TRUE(fs::is_directory(test::data_dir().parent_path() / "fuzz")) << "tests/fuzz is missing";
  for (const fs::path& p : inputs_of(GetParam().name)) {
    SCOPED_TRACE(p.string());
    std::ifstream in(p, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      GetParam().run(bytes.data(), bytes.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a LoadError: " << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, testing::ValuesIn(fuzz::kTargets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace smolvk
