#pragma once
// Frame timing as the user feels it: overall rate, rate and worst gap while generating,
// and how soon the frame after a Stop press was on screen.
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

namespace smolvk::gui {

class FrameStats {
 public:
  using Clock = std::chrono::steady_clock;
  // Call when a frame is on screen (or read back); `generating` = a generation was running.
  void on_frame(bool generating);
  void on_stop_pressed();

  int frames() const { return frames_; }
  double fps() const { return fps_; }  // over the last ~second
  double generating_fps() const { return gen_seconds_ > 0 ? gen_frames_ / gen_seconds_ : 0; }
  nlohmann::json to_json() const;

 private:
  int frames_ = 0;
  std::optional<Clock::time_point> last_, window_start_;
  int window_frames_ = 0;
  double fps_ = 0;
  int gen_frames_ = 0;
  double gen_seconds_ = 0, gen_max_gap_ms_ = 0;
  std::optional<Clock::time_point> stop_pressed_;
  int stop_frame_ = -1;
  double stop_to_next_frame_ms_ = -1;
};

}  // namespace smolvk::gui
