#pragma once
// Helpers for the smolvk-gui tests: where the binaries are (next to this test binary's build
// folder), running them, reading what they wrote.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "loader/image.h"
#include "tests/test_util.h"

namespace smolvk::test {

// build/tests/test_apps → build/apps/<name>
inline std::filesystem::path app_binary(const std::string& name) {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "apps" / name;
}

inline std::filesystem::path examples_dir() { return data_dir().parent_path().parent_path() / "examples"; }

inline std::filesystem::path scratch_root() {
  return std::filesystem::temp_directory_path() / ("smolvk-gui-test-" + std::to_string(getpid()));
}
// Removes this process's scratch folders when the test binary exits.
inline const struct ScratchCleanup {
  ~ScratchCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(scratch_root(), ec);
  }
} scratch_cleanup;

// A fresh folder for one test's files.
inline std::filesystem::path scratch_dir(const std::string& test) {
  auto d = scratch_root() / test;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs `command` through the shell with validation on; returns its exit status.
inline int run_shell(const std::string& command) {
  int status = std::system(("SMOLVK_VALIDATION=1 " + command).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline nlohmann::json read_json(const std::filesystem::path& p) { return nlohmann::json::parse(read_text(p)); }

// Distinct RGB colours inside [x0,x1)×[y0,y1) (fractions of the image size).
inline size_t distinct_colours(const Image& img, double x0, double y0, double x1, double y1) {
  std::set<uint32_t> seen;
  for (int y = int(y0 * img.height); y < int(y1 * img.height); ++y)
    for (int x = int(x0 * img.width); x < int(x1 * img.width); ++x) {
      const uint8_t* p = img.pixel(x, y);
      seen.insert(uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]);
    }
  return seen.size();
}

}  // namespace smolvk::test
