// Faults seen through the CLI, as a user meets them: a lost device (simulated with
// $SMOLVK_FAULT) and an over-small memory budget make `smolvk run` exit non-zero with one
// line naming the fault; `smolvk chat` lists its commands on /help and reports unknown ones.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/apps/cli_test_util.h"

namespace {

namespace fs = std::filesystem;
using smolvk::test::CliRun;
using smolvk::test::run_cli;

std::string model_arg() { return "--model " + (fs::path(SMOLVK_TEST_DATA) / "smolvlm_f32_s3").string(); }

size_t lines_with(const std::string& text, const std::string& what) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(what) != std::string::npos;
  return n;
}

}  // namespace

TEST(FaultsCli, DeviceLostMakesRunExitNonZeroWithOneLine) {
  const CliRun r =
      run_cli("run " + model_arg() + " --prompt Hello --max-new-tokens 3", "SMOLVK_FAULT=device_lost_after:1");
  EXPECT_NE(r.code, 0) << r.err;
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(lines_with(r.err, "smolvk run: error: device lost"), 1u) << r.err;
  EXPECT_NE(r.err.find("VK_ERROR_DEVICE_LOST"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SMOLVK_FAULT"), std::string::npos) << r.err;

  const CliRun bad = run_cli("run " + model_arg() + " --prompt Hello --max-new-tokens 3", "SMOLVK_FAULT=sometimes");
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_NE(bad.err.find("SMOLVK_FAULT=sometimes: expected device_lost_after:N"), std::string::npos) << bad.err;
}

TEST(FaultsCli, OverBudgetMakesRunExitNonZeroNamingTheBudget) {
  const CliRun r = run_cli("run " + model_arg() + " --prompt Hello --max-new-tokens 3", "SMOLVK_MEMORY_BUDGET=256K");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(lines_with(r.err, "smolvk run: error: out of device memory"), 1u) << r.err;
  EXPECT_NE(r.err.find("memory budget of 262144 bytes"), std::string::npos) << r.err;

  const CliRun bad = run_cli("run " + model_arg() + " --prompt Hello --max-new-tokens 3", "SMOLVK_MEMORY_BUDGET=lots");
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_NE(bad.err.find("SMOLVK_MEMORY_BUDGET=lots"), std::string::npos) << bad.err;
}

TEST(FaultsCli, ChatHelpListsCommandsAndUnknownOnesAreNotSent) {
  const fs::path input = fs::temp_directory_path() / ("smolvk_faults_chat_in_" + std::to_string(::getpid()));
  {
    std::ofstream f(input);
    f << "/foo bar\n/help\n/quit\n";
  }
  const CliRun r = run_cli("chat " + model_arg() + " --max-new-tokens 2", "", "< " + input.string());
  fs::remove(input);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("unknown command '/foo'; /help lists them"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("commands: /image FILE"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(" tokens, "), std::string::npos) << "nothing was sent to the model:\n" << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}
