// The server_request fuzz target's seeds and regressions (tests/fuzz/{seeds,regressions}/
// server_request), replayed through the harness in every build (test_loader does this for the
// loader's targets).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/fuzz/fuzz_targets.h"

namespace {

TEST(ServerFuzzReplay, EveryCommittedInputIsHandled) {
  namespace fs = std::filesystem;
  const fs::path fuzz = fs::path(SMOLVK_TEST_DATA).parent_path() / "fuzz";
  int n = 0;
  for (const char* kind : {"seeds", "regressions"}) {
    const fs::path d = fuzz / kind / "server_request";
    if (!fs::is_directory(d)) continue;
    for (const auto& e : fs::directory_iterator(d)) {
      SCOPED_TRACE(e.path().string());
      std::ifstream in(e.path(), std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      try {
        smolvk::fuzz::server_request(bytes.data(), bytes.size());
      } catch (const std::exception& ex) {
        ADD_FAILURE() << ex.what();
      }
      ++n;
    }
  }
  EXPECT_GE(n, 4);
}

}  // namespace
