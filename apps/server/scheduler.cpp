// The scheduler: one thread owns the Model (and so the GPU) through a BatchSession.
#include "apps/server/scheduler.h"

#include <algorithm>
#include <map>
#include <thread>

#include "apps/server/metrics.h"
#include "apps/server/stop_text.h"
#include "model/batch_session.h"

namespace smolvk::serve {

std::vector<Event> Stream::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty(); });
  std::vector<Event> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

void Stream::push(Event e) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

size_t admit_count(std::span<const int> queued_prompt_tokens, int free, int64_t budget) {
  size_t n = 0;
  int64_t tokens = 0;
  for (const int p : queued_prompt_tokens) {
    if (int(n) >= free) break;
    if (budget > 0 && n > 0 && tokens + p > budget) break;
    tokens += p;
    ++n;
  }
  return n;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Entry {
  Entry(Job j) : job(std::move(j)), stop(job.stop) {}
  std::shared_ptr<Stream> stream = std::make_shared<Stream>();
  Job job;
  StopText stop;
  Clock::time_point submitted = Clock::now(), last_token;
  int tokens = 0;
  std::atomic<bool> finished{false};

  bool wanted() const { return !finished && !stream->cancelled(); }
};
using EntryPtr = std::shared_ptr<Entry>;

// Continuous batching on one BatchSession (model/batch_session.h): between decode steps the
// loop admits queued jobs into free slots (prefilled together), steps every running slot once,
// routes each token to its stream, and releases a slot as soon as its job stops (max_tokens,
// a stop string, a stop token) or its client goes away. Each job keeps its own sampling
// settings, so any jobs can share the batch. Pipelined (SchedulerLimits::pipeline_decode), the
// session's step() returns with the next step already on the GPU: routing the tokens, stop
// strings and releases overlap it; a slot released meanwhile (its job stopped or its client
// left) has its row of that step dropped by the session, so no job gets a token past its end.
class ContinuousScheduler final : public Scheduler {
 public:
  ContinuousScheduler(Model& model, SchedulerLimits limits, Metrics& metrics)
      : limits_(limits),
        metrics_(metrics),
        session_(model, limits.max_batch, limits.positions, BatchSessionOptions{limits.pipeline_decode}),
        thread_([this] { loop(); }) {}
  ~ContinuousScheduler() override { drain(Clock::now()); }

  int64_t positions() const override { return session_.positions(); }

  std::shared_ptr<void> preparing() override {
    {
      std::lock_guard lock(mutex_);
      ++preparing_;
    }
    return std::shared_ptr<void>(nullptr, [this](void*) {
      {
        std::lock_guard lock(mutex_);
        --preparing_;
      }
      cv_.notify_all();
    });
  }

  std::shared_ptr<Stream> submit(Job job) override {
    auto e = std::make_shared<Entry>(std::move(job));
    std::lock_guard lock(mutex_);
    if (!accepting_) throw Rejected(503, "the server is shutting down");
    if (int(queue_.size()) >= limits_.max_queue)
      throw Rejected(429, "the queue is full (" + std::to_string(limits_.max_queue) +
                              " requests wait already, --max-queue); retry later");
    queue_.push_back(e);
    metrics_.queue_depth(int(queue_.size()));
    cv_.notify_all();
    return e->stream;
  }

  void cancel(const std::shared_ptr<Stream>& stream) override {
    stream->mark_cancelled();
    std::lock_guard lock(mutex_);
    auto q = std::find_if(queue_.begin(), queue_.end(), [&](const EntryPtr& e) { return e->stream == stream; });
    if (q != queue_.end()) {
      EntryPtr e = *q;
      queue_.erase(q);
      metrics_.queue_depth(int(queue_.size()));
      finish(*e, "cancelled");
      idle_cv_.notify_all();
    }
    // A running job leaves at the loop's next step.
  }

  void drain(Clock::time_point deadline) override {
    std::unique_lock lock(mutex_);
    accepting_ = false;
    if (!idle_cv_.wait_until(lock, deadline, [&] { return idle_locked(); })) {
      while (!queue_.empty()) {
        EntryPtr e = queue_.front();
        queue_.pop_front();
        e->stream->mark_cancelled();
        finish(*e, "cancelled");
      }
      for (const auto& [slot, e] : running_) e->stream->mark_cancelled();
      for (const auto& e : admitting_) e->stream->mark_cancelled();
    }
    stopping_ = true;
    cv_.notify_all();
    lock.unlock();
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool idle_locked() const { return queue_.empty() && running_.empty() && admitting_.empty(); }

  void loop() {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !running_.empty(); });
        if (stopping_ && idle_locked()) return;
        const int free = session_.free_slots();
        // An idle GPU: clients that connect together reach the queue a little apart (each
        // body is parsed and its images tiled first), so while others are still being
        // prepared, give them a moment to be prefilled together. A lone request goes at once;
        // a running batch takes newcomers at its next step.
        if (running_.empty() && !queue_.empty())
          cv_.wait_until(lock, queue_.front()->submitted + limits_.batch_window,
                         [&] { return stopping_ || int(queue_.size()) >= free || preparing_ == 0; });
        // A running batch: newcomers join together once the oldest has waited join_window
        // (or they fill the free slots); until then the batch keeps decoding. Those the last
        // gap's prefill budget left over go now.
        const bool join = running_.empty() || stopping_ || held_over_ || int(queue_.size()) >= free ||
                          (!queue_.empty() && Clock::now() >= queue_.front()->submitted + limits_.join_window);
        held_over_ = false;
        if (join && !queue_.empty() && free > 0) {
          // A running batch waits for this gap's prefill: at most max_prefill_tokens of it.
          std::vector<int> prompts;
          for (size_t i = 0; i < queue_.size() && int(i) < free; ++i) prompts.push_back(queue_[i]->job.prompt_tokens);
          const size_t n = admit_count(prompts, free, running_.empty() ? 0 : limits_.max_prefill_tokens);
          for (size_t i = 0; i < n; ++i) {
            admitting_.push_back(queue_.front());
            queue_.pop_front();
          }
          held_over_ = n < prompts.size();
          if (held_over_) metrics_.prefill_held();
        }
        metrics_.queue_depth(int(queue_.size()));
      }
      if (!admitting_.empty()) admit();
      release_unwanted();
      if (!running_.empty()) step();
      release_unwanted();
      std::lock_guard lock(mutex_);
      if (idle_locked()) idle_cv_.notify_all();
    }
  }

  void admit() {
    std::vector<EntryPtr> batch;
    {
      std::lock_guard lock(mutex_);
      for (const auto& e : admitting_)
        if (e->wanted())
          batch.push_back(e);
        else
          finish(*e, "cancelled");
    }
    try {
      admit(batch);
    } catch (const std::exception&) {
      // One bad job must not fail the others: admit them one by one.
      for (const auto& e : batch) try {
          admit({e});
        } catch (const std::exception& ex) {
          fail(*e, ex.what());
        }
    }
    std::lock_guard lock(mutex_);
    admitting_.clear();
  }

  void admit(const std::vector<EntryPtr>& batch) {
    if (batch.empty()) return;
    std::vector<Request> requests;
    std::vector<SlotSettings> settings;
    for (const auto& e : batch) {
      requests.push_back(e->job.request);
      settings.push_back({e->job.max_tokens, e->job.sampling, e->job.ignore_eos});
    }
    const auto start = Clock::now();
    for (const auto& e : batch) metrics_.queue_wait(seconds(start - e->submitted));
    const bool stalls = session_.running() > 0;  // the running jobs wait for this pass
    const std::vector<SlotToken> first = session_.admit(requests, settings);
    const double took = seconds(Clock::now() - start);
    metrics_.prefill(int(batch.size()), took);
    if (stalls) metrics_.decode_stall(took);
    {
      std::lock_guard lock(mutex_);
      for (size_t i = 0; i < batch.size(); ++i) running_[first[i].slot] = batch[i];
    }
    for (const SlotToken& t : first) on_token(t);
  }

  void step() {
    metrics_.batch(session_.running(), limits_.max_batch, session_.kv_bytes());
    std::vector<SlotToken> tokens;
    try {
      tokens = session_.step();
    } catch (const std::exception& ex) {
      // The device failed under every running job.
      std::lock_guard lock(mutex_);
      for (const auto& [slot, e] : running_) {
        fail(*e, ex.what());
        session_.release(slot);
      }
      running_.clear();
      return;
    }
    ++steps_;
    for (const SlotToken& t : tokens) on_token(t);
    metrics_.batch(session_.running(), limits_.max_batch, session_.kv_bytes());
  }

  // Slots whose client went away (or that a drain cancelled) are freed.
  void release_unwanted() {
    std::lock_guard lock(mutex_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->stream->cancelled()) {
        session_.release(it->first);
        if (!it->second->finished) finish(*it->second, "cancelled");
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void on_token(const SlotToken& t) {
    EntryPtr e;
    {
      std::lock_guard lock(mutex_);
      const auto it = running_.find(t.slot);
      if (it == running_.end()) {  // no job holds this slot: free it
        session_.release(t.slot);
        return;
      }
      e = it->second;
    }
    const char* reason = nullptr;
    if (e->wanted()) {
      const auto now = Clock::now();
      if (e->tokens == 0)
        metrics_.time_to_first_token(seconds(now - e->submitted));
      else
        metrics_.inter_token(seconds(now - e->last_token));
      e->last_token = now;
      ++e->tokens;
      e->stream->push({Event::Token, t.id, e->stop.feed(t.piece), {}, {}, steps_});
      if (e->stop.stopped() || t.stop_reason == "eos")
        reason = "stop";
      else if (!t.stop_reason.empty() || e->tokens >= e->job.max_tokens)
        reason = "length";
    }
    if (reason) finish(*e, reason);
    if (reason || !t.stop_reason.empty()) {
      std::lock_guard lock(mutex_);
      session_.release(t.slot);
      running_.erase(t.slot);
    }
  }

  void finish(Entry& e, const char* reason) {
    e.finished = true;
    const bool cancelled = std::string_view(reason) == "cancelled";
    metrics_.tokens(e.job.prompt_tokens, e.tokens);
    if (cancelled) metrics_.cancelled();
    e.stream->push({Event::Done, -1, cancelled ? std::string() : e.stop.flush(), reason, {}});
  }

  void fail(Entry& e, const std::string& why) {
    if (e.finished) return;
    e.finished = true;
    e.stream->push({Event::Failed, -1, {}, {}, why});
  }

  const SchedulerLimits limits_;
  Metrics& metrics_;
  BatchSession session_;  // used by the loop thread only (and under mutex_ for releases)
  std::mutex mutex_;
  std::condition_variable cv_, idle_cv_;
  std::deque<EntryPtr> queue_;
  std::vector<EntryPtr> admitting_;  // taken from the queue, being prefilled
  std::map<int, EntryPtr> running_;  // slot → job
  bool accepting_ = true, stopping_ = false;
  bool held_over_ = false;  // the last gap's prefill budget left queued jobs for this one
  uint64_t steps_ = 0;      // decode steps run (Event::steps; the loop thread only)
  int preparing_ = 0;  // requests HTTP threads are preparing (preparing())
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace

std::unique_ptr<Scheduler> make_scheduler(Model& model, SchedulerLimits limits, Metrics& metrics) {
  return std::make_unique<ContinuousScheduler>(model, limits, metrics);
}

}  // namespace smolvk::serve
