#pragma once
// Runs the built `smolvk` binary as a user would (next to the test binary: ../apps/smolvk, or
// $SMOLVK_CLI) and collects its exit code, stdout and stderr; a validation message on stderr
// fails the calling test.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace smolvk::test {

inline std::filesystem::path smolvk_binary() {
  if (const char* p = std::getenv("SMOLVK_CLI"); p && *p) return p;
  return std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "apps" / "smolvk";
}

struct CliRun {
  int code = -1;
  std::string out, err;
};

// `smolvk ARGS`, with `env` before it (VAR=value ...) and `tail` after it (e.g. "< file").
inline CliRun run_cli(const std::string& args, const std::string& env = "", const std::string& tail = "") {
  namespace fs = std::filesystem;
  const fs::path bin = smolvk_binary();
  if (!fs::exists(bin)) {
    ADD_FAILURE() << bin << " does not exist: build the smolvk target (or set SMOLVK_CLI)";
    return {};
  }
  const fs::path err_file = fs::temp_directory_path() / ("smolvk_test_stderr_" + std::to_string(::getpid()));
  const std::string cmd = env + " " + bin.string() + " " + args + " " + tail + " 2>" + err_file.string();
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    ADD_FAILURE() << "popen failed: " << cmd;
    return r;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  EXPECT_EQ(r.err.find("Vulkan validation"), std::string::npos) << r.err;
  return r;
}

}  // namespace smolvk::test
