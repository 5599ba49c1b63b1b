#pragma once
// One background thread that runs jobs in order (model loads, generations), so the UI
// thread never waits on the GPU's compute work.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace smolvk::gui {

class Worker {
 public:
  Worker();
  ~Worker();  // finishes the running job, drops queued ones
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void post(std::function<void()> job);
  bool idle() const;  // no job running or queued

 private:
  void loop();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool running_ = false, quit_ = false;
  std::thread thread_;
};

}  // namespace smolvk::gui
