// The load progress display (apps/cli/progress_bar.h): its line, the redrawn terminal line and
// the plain lines a pipe or log file gets.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "apps/cli/progress_bar.h"

using smolvk::cli::ProgressBar;

namespace {
// Everything written to `f` so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s += char(c);
  return s;
}
}  // namespace

TEST(ProgressBar, LineShowsBarBytesRateAndTimeLeft) {
  EXPECT_EQ(ProgressBar::line("up", 256'000'000, 512'000'000, 2.0, 10),
            "up [#####.....]  50.0%  256.0 / 512.0 MB  128.0 MB/s  2.0 s left");
  EXPECT_EQ(ProgressBar::line("up", 512'000'000, 512'000'000, 4.0, 10),
            "up [##########] 100.0%  512.0 / 512.0 MB  128.0 MB/s  in 4.0 s");
  EXPECT_EQ(ProgressBar::line("up", 0, 512'000'000, 0.0, 4), "up [....]   0.0%  0.0 / 512.0 MB");
  EXPECT_EQ(ProgressBar::line("up", 0, 0, 0.0, 4), "up [####] 100.0%  0.0 / 0.0 MB");  // nothing to do
}

TEST(ProgressBar, PlainLinesAtTheStartAndEachQuarter) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ProgressBar bar("w", false, f);
  for (uint64_t done : {0, 10, 20, 30, 45, 60, 99, 100}) bar.update(done, 100);
  bar.finish();
  bar.finish();
  const std::string out = contents(f);
  std::fclose(f);
  // 0 %, then 30 % (past a quarter), 60 % (past a half), 99 % (past three), 100 %: five lines,
  // no carriage return; the second finish adds nothing.
  size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 5u) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("w [", 0), std::string::npos);
  EXPECT_NE(out.find("100.0%  0.0 / 0.0 MB"), std::string::npos) << out;
}

TEST(ProgressBar, TerminalRedrawsOneLineAndEndsIt) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ProgressBar bar("w", true, f);
  bar.update(0, 4'000'000);
  bar.update(1'000'000, 4'000'000);  // within 100 ms of the first draw: not drawn
  bar.update(4'000'000, 4'000'000);  // the end is always drawn
  bar.finish();
  const std::string out = contents(f);
  std::fclose(f);
  EXPECT_EQ(out.rfind('\n'), out.size() - 1) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line: " << out;
  EXPECT_NE(out.find("\r"), std::string::npos);
  EXPECT_EQ(out.find(" 25.0%"), std::string::npos) << out;
  EXPECT_NE(out.find("100.0%  4.0 / 4.0 MB"), std::string::npos) << out;
}
