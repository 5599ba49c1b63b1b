#pragma once
// Counters, gauges and histograms for GET /metrics (Prometheus text format 0.0.4). Thread-safe.
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "model/image_cache.h"

namespace smolvk::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  // `name`_bucket{le=...}, `name`_sum, `name`_count lines.
  void render(std::string& out, const std::string& name) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request_finished(int status);
  void tokens(int prompt, int completion);
  void time_to_first_token(double seconds);
  void inter_token(double seconds);
  void cancelled();
  // A decode step runs `rows` requests (0: none runs); kv_bytes = the KV cache allocated.
  void batch(int rows, int max_batch, uint64_t kv_bytes);
  // Where a request's time to first token goes: its HTTP thread's work (parse, image decode,
  // preprocessing, tokenizing), its wait in the queue, and the prefill pass that admitted it
  // (with the requests admitted together: vision encode, prefill, first token).
  void prepared(double seconds);
  void queue_wait(double seconds);
  void prefill(int requests, double seconds);
  // A prefill pass ran while a batch was decoding: its running requests waited that long.
  void decode_stall(double seconds);
  // A gap's prefill budget (--max-prefill-tokens) left queued requests for the next gap.
  void prefill_held();
  void queue_depth(int n);
  void model_ready(bool ready);
  void image_cache(const ImageCacheStats& s);  // the model's, as of now
  std::string render() const;

 private:
  void observe(Histogram& h, double seconds);  // under the mutex

  mutable std::mutex mutex_;
  std::map<int, uint64_t> requests_by_status_;
  uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, cancelled_ = 0, batches_ = 0;
  uint64_t prefills_ = 0, prefill_requests_ = 0, prefill_held_ = 0;
  double decode_stall_seconds_ = 0;
  Histogram ttft_, inter_token_, batch_rows_, prepare_, queue_wait_, prefill_;
  int queue_depth_ = 0, running_ = 0, max_batch_ = 1;
  uint64_t kv_bytes_ = 0;
  ImageCacheStats image_cache_;
  bool ready_ = false;
};

}  // namespace smolvk::serve
