#pragma once
// A progress display for long work on stderr (the weights upload of a multi-GB checkpoint).
// On a terminal: one line redrawn in place — bar, MB done of total, MB/s, time left — at most
// every 100 ms. Anywhere else (a pipe, a log file): a plain line at each quarter, so logs stay
// readable.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace smolvk::cli {

class ProgressBar {
 public:
  ProgressBar(std::string what, bool terminal, std::FILE* out = stderr);
  // `done` of `total` bytes; the first call starts the clock.
  void update(uint64_t done, uint64_t total);
  // Ends the display (the terminal line gets its newline); safe to call more than once.
  void finish();

  // One line of the display: "uploading weights [#####·····]  256.0 / 512.0 MB  128.0 MB/s  1.9 s left".
  static std::string line(const std::string& what, uint64_t done, uint64_t total, double seconds, int width = 24);

 private:
  using Clock = std::chrono::steady_clock;
  void draw(double seconds);  // the terminal line, in place
  std::string what_;
  bool terminal_;
  std::FILE* out_;
  bool started_ = false, open_ = false;
  Clock::time_point start_, last_draw_;
  uint64_t done_ = 0, total_ = 0;
  int quarters_ = 0;  // plain lines printed
};

}  // namespace smolvk::cli
