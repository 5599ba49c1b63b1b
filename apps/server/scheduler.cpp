// Batch scheduler: one thread owns the Model. It takes the oldest queued job and every other
// queued job with the same sampling settings (up to --max-batch, within the context), runs
// them as one Model::generate batch (left-padded by the library), and routes each row's tokens
// to its stream. Each row stops on its own max_tokens, stop strings or stop tokens; the
// generate is cancelled once no row is wanted. Jobs arriving meanwhile wait for the next batch.
#include "apps/server/scheduler.h"

#include <algorithm>
#include <thread>

#include "apps/server/metrics.h"
#include "apps/server/stop_text.h"
#include "loader/prompt.h"

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

// Jobs that one generate() can run together: GenerateOptions::sampling and ignore_eos are per
// batch in the library; max_tokens is per row here.
bool batchable(const Job& a, const Job& b) {
  return a.sampling.temperature == b.sampling.temperature && a.sampling.top_k == b.sampling.top_k &&
         a.sampling.top_p == b.sampling.top_p && a.sampling.seed == b.sampling.seed && a.ignore_eos == b.ignore_eos;
}

class BatchScheduler final : public Scheduler {
 public:
  BatchScheduler(Model& model, SchedulerLimits limits, Metrics& metrics)
      : model_(model),
        limits_(limits),
        metrics_(metrics),
        stop_ids_(stop_token_ids(model.generation_config(), model.tokenizer())),
        thread_([this] { loop(); }) {}
  ~BatchScheduler() override { drain(Clock::now()); }

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
    cancel_locked(stream.get());
  }

  void drain(Clock::time_point deadline) override {
    std::unique_lock lock(mutex_);
    accepting_ = false;
    if (!idle_cv_.wait_until(lock, deadline, [&] { return queue_.empty() && running_.empty(); })) {
      while (!queue_.empty()) {
        queue_.front()->stream->mark_cancelled();
        cancel_locked(queue_.front()->stream.get());
      }
      for (const auto& e : running_) e->stream->mark_cancelled();
      if (!running_.empty()) model_.cancel();
    }
    stopping_ = true;
    cv_.notify_all();
    lock.unlock();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void cancel_locked(const Stream* stream) {
    auto q = std::find_if(queue_.begin(), queue_.end(), [&](const EntryPtr& e) { return e->stream.get() == stream; });
    if (q != queue_.end()) {
      EntryPtr e = *q;
      queue_.erase(q);
      metrics_.queue_depth(int(queue_.size()));
      finish(*e, "cancelled");
      idle_cv_.notify_all();
      return;
    }
    const bool in_batch =
        std::any_of(running_.begin(), running_.end(), [&](const EntryPtr& e) { return e->stream.get() == stream; });
    if (in_batch && none_wanted(running_)) model_.cancel();
  }

  static bool none_wanted(const std::vector<EntryPtr>& batch) {
    return std::none_of(batch.begin(), batch.end(), [](const EntryPtr& e) { return e->wanted(); });
  }

  void loop() {
    for (;;) {
      std::vector<EntryPtr> batch;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        // Clients that connect together reach the queue a little apart (each body is parsed and
        // its images tiled first): give the batch a moment to fill.
        cv_.wait_until(lock, queue_.front()->submitted + limits_.batch_window,
                       [&] { return stopping_ || int(queue_.size()) >= limits_.max_batch; });
        batch = take_batch_locked();
        running_ = batch;
        metrics_.queue_depth(int(queue_.size()));
      }
      run(batch);
      std::lock_guard lock(mutex_);
      running_.clear();
      idle_cv_.notify_all();
    }
  }

  // The oldest job, and the queued jobs batchable with it whose prompt + max_tokens still fit
  // the context with the batch's longest prompt and largest max_tokens (left padding).
  std::vector<EntryPtr> take_batch_locked() {
    const int64_t context = model_.config().text.max_position_embeddings;
    std::vector<EntryPtr> batch;
    int64_t longest = 0, most_new = 0;
    for (auto it = queue_.begin(); it != queue_.end() && int(batch.size()) < limits_.max_batch;) {
      const Job& j = (*it)->job;
      const int64_t l = std::max<int64_t>(longest, j.prompt_tokens), n = std::max<int64_t>(most_new, j.max_tokens);
      if (!batch.empty() && (!batchable(batch.front()->job, j) || l + n > context)) {
        ++it;
        continue;
      }
      longest = l;
      most_new = n;
      batch.push_back(*it);
      it = queue_.erase(it);
    }
    return batch;
  }

  // Bytes of the KV cache generate() allocates for this batch (model/text_graph.cpp's
  // make_kv_cache: K and V per layer, f32, capacity rounded up to 16).
  uint64_t kv_bytes(int64_t rows, int64_t positions) const {
    const auto& t = model_.config().text;
    const int64_t capacity = std::min<int64_t>((positions + 15) / 16 * 16, t.max_position_embeddings);
    return uint64_t(2 * t.num_hidden_layers * rows * t.num_key_value_heads * capacity * t.head_dim) * 4;
  }

  void run(const std::vector<EntryPtr>& batch) {
    GenerateOptions o;
    o.max_new_tokens = 1;
    o.sampling = batch.front()->job.sampling;
    o.ignore_eos = batch.front()->job.ignore_eos;
    std::vector<Request> requests;
    int64_t longest = 0;
    for (const auto& e : batch) {
      o.max_new_tokens = std::max(o.max_new_tokens, e->job.max_tokens);
      longest = std::max<int64_t>(longest, e->job.prompt_tokens);
      requests.push_back(std::move(e->job.request));
    }
    metrics_.batch(int(batch.size()), limits_.max_batch, kv_bytes(int64_t(batch.size()), longest + o.max_new_tokens));
    try {
      if (!none_wanted(batch))
        model_.generate(requests, o, [&](int row, int32_t id, const std::string& piece) {
          on_token(*batch[size_t(row)], id, piece);
          if (none_wanted(batch)) model_.cancel();
        });
      // Rows still open: cancelled by their client or by a drain.
      for (const auto& e : batch)
        if (!e->finished) finish(*e, "cancelled");
    } catch (const std::exception& ex) {
      for (const auto& e : batch)
        if (!e->finished) {
          e->finished = true;
          e->stream->push({Event::Failed, -1, {}, {}, ex.what()});
        }
    }
    metrics_.batch(0, limits_.max_batch, 0);
  }

  void on_token(Entry& e, int32_t id, const std::string& piece) {
    if (!e.wanted()) return;
    const auto now = Clock::now();
    if (e.tokens == 0)
      metrics_.time_to_first_token(seconds(now - e.submitted));
    else
      metrics_.inter_token(seconds(now - e.last_token));
    e.last_token = now;
    ++e.tokens;
    e.stream->push({Event::Token, id, e.stop.feed(piece), {}, {}});
    const bool stop_id = !e.job.ignore_eos && std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end();
    if (e.stop.stopped() || stop_id)
      finish(e, "stop");
    else if (e.tokens >= e.job.max_tokens)
      finish(e, "length");
  }

  void finish(Entry& e, const char* reason) {
    e.finished = true;
    const bool cancelled = std::string_view(reason) == "cancelled";
    metrics_.tokens(e.job.prompt_tokens, e.tokens);
    if (cancelled) metrics_.cancelled();
    e.stream->push({Event::Done, -1, cancelled ? std::string() : e.stop.flush(), reason, {}});
  }

  Model& model_;
  const SchedulerLimits limits_;
  Metrics& metrics_;
  const std::vector<int32_t> stop_ids_;
  std::mutex mutex_;
  std::condition_variable cv_, idle_cv_;
  std::deque<EntryPtr> queue_;
  std::vector<EntryPtr> running_;
  bool accepting_ = true, stopping_ = false;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace

std::unique_ptr<Scheduler> make_batch_scheduler(Model& model, SchedulerLimits limits, Metrics& metrics) {
  return std::make_unique<BatchScheduler>(model, limits, metrics);
}

}  // namespace smolvk::serve
