#include "apps/gui/frame_stats.h"

#include <algorithm>

namespace smolvk::gui {

void FrameStats::on_frame(bool generating) {
  auto now = Clock::now();
  if (last_ && generating) {
    double gap = std::chrono::duration<double>(now - *last_).count();
    gen_seconds_ += gap;
    ++gen_frames_;
    gen_max_gap_ms_ = std::max(gen_max_gap_ms_, gap * 1000.0);
  }
  if (!window_start_) window_start_ = now;
  ++window_frames_;
  double window = std::chrono::duration<double>(now - *window_start_).count();
  if (window >= 1.0) {
    fps_ = window_frames_ / window;
    window_start_ = now;
    window_frames_ = 0;
  }
  // The frame being built when Stop was pressed is frames_; the one after it is what counts.
  if (stop_pressed_ && stop_to_next_frame_ms_ < 0 && frames_ > stop_frame_)
    stop_to_next_frame_ms_ = std::chrono::duration<double, std::milli>(now - *stop_pressed_).count();
  last_ = now;
  ++frames_;
}

void FrameStats::on_stop_pressed() {
  stop_pressed_ = Clock::now();
  stop_frame_ = frames_;
  stop_to_next_frame_ms_ = -1;
}

nlohmann::json FrameStats::to_json() const {
  return {{"frames", frames_},
          {"frames_while_generating", gen_frames_},
          {"seconds_while_generating", gen_seconds_},
          {"fps_while_generating", generating_fps()},
          {"max_frame_gap_ms_while_generating", gen_max_gap_ms_},
          {"stop_to_next_frame_ms", stop_to_next_frame_ms_}};
}

}  // namespace smolvk::gui
