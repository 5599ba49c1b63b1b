#include "apps/cli/progress_bar.h"

#include <algorithm>

namespace smolvk::cli {

ProgressBar::ProgressBar(std::string what, bool terminal, std::FILE* out)
    : what_(std::move(what)), terminal_(terminal), out_(out) {}

std::string ProgressBar::line(const std::string& what, uint64_t done, uint64_t total, double seconds, int width) {
  const double frac = total ? std::min(1.0, double(done) / double(total)) : 1.0;
  const int filled = int(frac * width + 1e-9);
  std::string bar = "[" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.') + "]";
  const double mb = double(done) / 1e6, total_mb = double(total) / 1e6;
  char buf[160];
  std::snprintf(buf, sizeof buf, " %5.1f%%  %.1f / %.1f MB", 100.0 * frac, mb, total_mb);
  std::string s = what + " " + bar + buf;
  if (seconds > 0 && done > 0) {
    const double rate = mb / seconds;
    std::snprintf(buf, sizeof buf, "  %.1f MB/s", rate);
    s += buf;
    if (done < total) {
      std::snprintf(buf, sizeof buf, "  %.1f s left", (total_mb - mb) / rate);
      s += buf;
    } else {
      std::snprintf(buf, sizeof buf, "  in %.1f s", seconds);
      s += buf;
    }
  }
  return s;
}

void ProgressBar::update(uint64_t done, uint64_t total) {
  const auto now = Clock::now();
  if (!started_) {
    started_ = true;
    start_ = now;
  }
  done_ = done;
  total_ = total;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  if (terminal_) {
    if (open_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    open_ = true;
    draw(seconds);
    return;
  }
  // Plain: the start, then each quarter reached.
  const int q = total ? int(std::min<uint64_t>(4, done * 4 / total)) : 4;
  if (q > quarters_ || (!open_ && done == 0)) {
    quarters_ = std::max(q, quarters_);
    open_ = true;
    std::fprintf(out_, "%s\n", line(what_, done, total, seconds).c_str());
  }
}

void ProgressBar::draw(double seconds) {
  std::fprintf(out_, "\r%s\033[K", line(what_, done_, total_, seconds).c_str());
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (!open_) return;
  if (terminal_) {
    draw(std::chrono::duration<double>(Clock::now() - start_).count());  // the final state
    std::fputc('\n', out_);
  } else if (quarters_ < 4) {
    std::fprintf(out_, "%s\n",
                 line(what_, done_, total_, std::chrono::duration<double>(Clock::now() - start_).count()).c_str());
  }
  std::fflush(out_);
  open_ = false;
}

}  // namespace smolvk::cli
