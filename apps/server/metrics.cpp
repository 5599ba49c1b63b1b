#include "apps/server/metrics.h"

#include <cstdio>

namespace smolvk::serve {

namespace {
std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.15g", v);
  return b;
}
void line(std::string& out, const std::string& name, double v) { out += name + " " + num(v) + "\n"; }
void head(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}
// One unlabelled sample with its # HELP and # TYPE lines.
void sample(std::string& out, const std::string& name, const char* type, const char* help, double v) {
  head(out, name, type, help);
  line(out, name, v);
}
}  // namespace

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    line(out, name + "_bucket{le=\"" + num(bounds_[i]) + "\"}", double(cumulative));
  }
  line(out, name + "_bucket{le=\"+Inf\"}", double(count_));
  line(out, name + "_sum", sum_);
  line(out, name + "_count", double(count_));
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      // Fine around a decode step (1-3 ms on a fast GPU), so that the server's own p50 and p99
      // can be read off it (serve_bench prints them beside the clients' figures).
      inter_token_({0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1}),
      batch_rows_({1, 2, 4, 8, 16, 32, 64, 128}),
      prepare_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
      queue_wait_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      prefill_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}) {}

void Metrics::request_finished(int status) {
  std::lock_guard lock(mutex_);
  ++requests_by_status_[status];
}
void Metrics::tokens(int prompt, int completion) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += uint64_t(prompt);
  completion_tokens_ += uint64_t(completion);
}
void Metrics::observe(Histogram& h, double s) {
  std::lock_guard lock(mutex_);
  h.observe(s);
}
void Metrics::time_to_first_token(double s) { observe(ttft_, s); }
void Metrics::inter_token(double s) { observe(inter_token_, s); }
void Metrics::prepared(double s) { observe(prepare_, s); }
void Metrics::queue_wait(double s) { observe(queue_wait_, s); }
void Metrics::cancelled() {
  std::lock_guard lock(mutex_);
  ++cancelled_;
}
void Metrics::image_cache(const ImageCacheStats& s) {
  std::lock_guard lock(mutex_);
  image_cache_ = s;
}

void Metrics::batch(int rows, int max_batch, uint64_t kv_bytes) {
  std::lock_guard lock(mutex_);
  running_ = rows;
  max_batch_ = max_batch;
  kv_bytes_ = kv_bytes;
  if (rows > 0) {
    ++batches_;
    batch_rows_.observe(rows);
  }
}
void Metrics::prefill(int requests, double s) {
  std::lock_guard lock(mutex_);
  ++prefills_;
  prefill_requests_ += uint64_t(requests);
  prefill_.observe(s);
}
void Metrics::decode_stall(double s) {
  std::lock_guard lock(mutex_);
  decode_stall_seconds_ += s;
}
void Metrics::prefill_held() {
  std::lock_guard lock(mutex_);
  ++prefill_held_;
}
void Metrics::queue_depth(int n) {
  std::lock_guard lock(mutex_);
  queue_depth_ = n;
}
void Metrics::model_ready(bool ready) {
  std::lock_guard lock(mutex_);
  ready_ = ready;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string o;
  head(o, "smolvk_requests_total", "counter", "HTTP requests answered, by status code.");
  for (const auto& [status, n] : requests_by_status_)
    line(o, "smolvk_requests_total{code=\"" + std::to_string(status) + "\"}", double(n));
  sample(o, "smolvk_prompt_tokens_total", "counter", "Prompt tokens of completed generations.", double(prompt_tokens_));
  sample(o, "smolvk_completion_tokens_total", "counter", "Tokens generated.", double(completion_tokens_));
  sample(o, "smolvk_cancelled_requests_total", "counter", "Generations cancelled (client gone, shutdown).",
         double(cancelled_));
  head(o, "smolvk_time_to_first_token_seconds", "histogram", "From the request's arrival to its first token.");
  ttft_.render(o, "smolvk_time_to_first_token_seconds");
  head(o, "smolvk_inter_token_seconds", "histogram", "Between consecutive tokens of one request.");
  inter_token_.render(o, "smolvk_inter_token_seconds");
  head(o, "smolvk_request_prepare_seconds", "histogram",
       "A request's work on its HTTP thread before it is queued: parse, image decode, preprocessing, tokens.");
  prepare_.render(o, "smolvk_request_prepare_seconds");
  head(o, "smolvk_queue_wait_seconds", "histogram", "From a request's queueing to the prefill pass that admits it.");
  queue_wait_.render(o, "smolvk_queue_wait_seconds");
  head(o, "smolvk_prefill_seconds", "histogram",
       "One prefill pass (vision encode, prefill, first tokens) for the requests it admits together.");
  prefill_.render(o, "smolvk_prefill_seconds");
  head(o, "smolvk_batch_rows", "histogram", "Requests per decode step.");
  batch_rows_.render(o, "smolvk_batch_rows");
  sample(o, "smolvk_batches_total", "counter", "Decode steps run (each running request gets one token).",
         double(batches_));
  sample(o, "smolvk_prefills_total", "counter",
         "Prefill passes: requests admitted together (see --join-window-ms) share one, and the running "
         "requests stall once for it.",
         double(prefills_));
  sample(o, "smolvk_prefill_requests_total", "counter", "Requests admitted by those prefill passes.",
         double(prefill_requests_));
  sample(o, "smolvk_decode_stall_seconds_total", "counter",
         "Time running requests waited for prefill passes of newcomers (the passes run while a batch decodes; "
         "see --max-prefill-tokens).",
         decode_stall_seconds_);
  sample(o, "smolvk_prefill_held_total", "counter",
         "Gaps between decode steps whose --max-prefill-tokens budget left queued requests for the next gap.",
         double(prefill_held_));
  sample(o, "smolvk_queue_depth", "gauge", "Requests waiting for the GPU.", queue_depth_);
  sample(o, "smolvk_running_requests", "gauge", "Requests in the running decode batch.", running_);
  sample(o, "smolvk_batch_occupancy", "gauge", "Running requests / --max-batch (KV slots in use).",
         max_batch_ > 0 ? double(running_) / max_batch_ : 0.0);
  sample(o, "smolvk_kv_cache_bytes", "gauge", "Device bytes of the KV cache (--max-batch x --ctx-size positions).",
         double(kv_bytes_));
  sample(o, "smolvk_image_cache_bytes", "gauge", "Device bytes of cached image features (encoder output rows).",
         double(image_cache_.bytes));
  sample(o, "smolvk_image_cache_budget_bytes", "gauge", "--image-cache-mb in bytes (0: the cache is off).",
         double(image_cache_.budget_bytes));
  sample(o, "smolvk_image_cache_entries", "gauge", "Images whose encoder output is cached.",
         double(image_cache_.entries));
  sample(o, "smolvk_image_cache_hits_total", "counter", "Images whose encoder output came from the cache.",
         double(image_cache_.hits));
  sample(o, "smolvk_image_cache_misses_total", "counter", "Images looked up and not found (then encoded).",
         double(image_cache_.misses));
  sample(o, "smolvk_image_cache_evictions_total", "counter", "Images dropped to stay within the budget.",
         double(image_cache_.evictions));
  sample(o, "smolvk_model_loaded", "gauge", "1 once the model is loaded and /health answers 200.", ready_ ? 1 : 0);
  return o;
}

}  // namespace smolvk::serve
