#include "apps/gui/worker.h"

namespace smolvk::gui {

Worker::Worker() : thread_([this] { loop(); }) {}

Worker::~Worker() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

void Worker::post(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
}

bool Worker::idle() const {
  std::lock_guard lock(mu_);
  return !running_ && jobs_.empty();
}

void Worker::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return quit_ || !jobs_.empty(); });
      if (quit_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      running_ = true;
    }
    job();  // jobs catch their own errors
    std::lock_guard lock(mu_);
    running_ = false;
  }
}

}  // namespace smolvk::gui
