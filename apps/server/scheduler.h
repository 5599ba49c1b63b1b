#pragma once
// The one owner of the Model (and so of the GPU): requests are submitted from HTTP threads and
// come back as a stream of token events. Behind the interface: continuous batching — a job
// joins the running decode batch at the next step and leaves it when it stops, each with its
// own sampling settings and limits (scheduler.cpp).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/smolvlm.h"

namespace smolvk::serve {

class Metrics;

// One generation: a prepared prompt (token ids + pixel values: Model::prepare's output) and
// its own limits.
struct Job {
  Request request;
  int prompt_tokens = 0;
  int max_tokens = 1;
  SamplingParams sampling;
  bool ignore_eos = false;
  std::vector<std::string> stop;
};

struct Event {
  enum Kind { Token, Done, Failed } kind = Token;
  int32_t id = -1;            // Token: the token
  std::string text;           // Token / Done: text released (stop strings held back, then cut)
  std::string finish_reason;  // Done: "stop", "length" or "cancelled"
  std::string error;          // Failed: why
  // Token: decode steps the scheduler had run when it was made (a first token: the steps run
  // before the prefill pass that admitted its job), so the gap a job was admitted at is known.
  uint64_t steps = 0;
};

// The handle a submit() returns: the job's events, in order.
class Stream {
 public:
  // Waits up to `timeout` for events; returns every pending one (none on timeout).
  std::vector<Event> wait(std::chrono::milliseconds timeout);
  bool cancelled() const { return cancelled_; }

  // Scheduler side.
  void push(Event e);
  void mark_cancelled() { cancelled_ = true; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  std::atomic<bool> cancelled_{false};
};

// submit() when --max-queue requests already wait (HTTP 429) or the server is shutting down
// (HTTP 503).
class Rejected : public std::runtime_error {
 public:
  Rejected(int status, const std::string& why) : std::runtime_error(why), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::shared_ptr<Stream> submit(Job job) = 0;
  // The job gets no more tokens: dropped from the queue, or from the running batch (whose
  // generate is cancelled once none of its rows is wanted). Its stream ends with Done
  // "cancelled" if it had not ended.
  virtual void cancel(const std::shared_ptr<Stream>& stream) = 0;
  // Stops accepting, lets queued and running jobs finish until `deadline`, cancels the rest,
  // and returns when the GPU is idle.
  virtual void drain(std::chrono::steady_clock::time_point deadline) = 0;
  // KV positions a job may use (prompt + max_tokens).
  virtual int64_t positions() const = 0;
  // An HTTP thread starts preparing a request it means to submit (parse, decode its images,
  // tokenize); the count drops when the returned guard dies (after submit(), or on a refusal).
  // An idle GPU's batch window waits only while some request is being prepared: clients that
  // connect together are prefilled together, and a lone request starts at once.
  [[nodiscard]] virtual std::shared_ptr<void> preparing() = 0;
};

struct SchedulerLimits {
  int max_batch = 8;  // jobs decoding at once (KV slots)
  int max_queue = 64;
  // On an idle GPU, how long the oldest queued job waits for others to be prefilled with
  // (while fewer than the free slots wait and others are still being prepared).
  std::chrono::milliseconds batch_window{5};
  int64_t positions = 0;  // KV positions per job (prompt + max_tokens); 0 = the model's context
  // While a batch runs, how long the oldest queued job may wait for more to join it (while
  // fewer than the free slots wait), the batch decoding meanwhile: newcomers that arrive a
  // little apart are then prefilled in one pass, and the running jobs stall once, not once
  // per newcomer.
  std::chrono::milliseconds join_window{0};
  // Pipelined decode (BatchSessionOptions::pipeline_decode): the next step runs on the GPU while
  // this one's tokens are detokenized, checked for stop strings and pushed to their streams.
  bool pipeline_decode = true;
  // While a batch runs, the prompt tokens (images' included) one gap between two decode steps
  // may prefill: queued jobs are admitted oldest first while they fit, at least one per gap;
  // the rest wait for the next gap (their join window then no longer applies), in arrival order.
  // Bounds how long the running jobs stall for newcomers. 0 = no budget; an idle batch has none.
  int max_prefill_tokens = 0;
};

// How many of the queued jobs (their prompt tokens, oldest first) one gap admits into `free`
// slots under a prefill budget of `budget` tokens (0: none): the longest prefix that fits, and
// never fewer than one while a slot is free.
size_t admit_count(std::span<const int> queued_prompt_tokens, int free, int64_t budget);

// Allocates the KV cache of max_batch × positions.
std::unique_ptr<Scheduler> make_scheduler(Model& model, SchedulerLimits limits, Metrics& metrics);

}  // namespace smolvk::serve
