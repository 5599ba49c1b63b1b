#pragma once
// The HTTP front end: OpenAI's /v1/chat/completions and /v1/models, /health and /metrics on
// cpp-httplib, in front of one Scheduler that owns the Model.
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "apps/server/metrics.h"
#include "apps/server/request.h"
#include "apps/server/scheduler.h"

namespace smolvk::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::filesystem::path model_dir;
  LoadOptions load;      // --dtype
  std::string model_id;  // what /v1/models lists and responses name
  std::string api_key;   // "" = no authentication
  std::filesystem::path image_root;
  int max_batch = 8;     // requests decoding at once
  int64_t ctx_size = 0;  // KV positions per request (prompt + answer); 0 = the model's, at most 4096
  int max_queue = 64;
  int batch_window_ms = 5;
  int join_window_ms = 0;
  size_t max_body_bytes = 32 << 20;
  int64_t max_image_pixels = 4096 * 4096;
  int max_images = 8;
  int default_max_tokens = 512;
  int threads = 0;  // HTTP worker threads; 0 = max_batch + max_queue + 8
  int drain_seconds = 30;
  int64_t image_cache_mb = 256;  // the model's image cache (Model::set_image_cache_budget); 0 = off
  bool pipeline_decode = true;   // SchedulerLimits::pipeline_decode
  int max_prefill_tokens = 0;    // SchedulerLimits::max_prefill_tokens (0: no budget)
};

// Connections the kernel queues for the server before it accepts them (then capped by
// net.core.somaxconn).
inline constexpr int kListenBacklog = 1024;

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Binds the socket; returns the port (the chosen one for port 0).
  int bind();
  // Loads the model on a background thread (/health answers 503 until it is ready), then
  // serves until shutdown(); returns false if the model failed to load.
  bool serve();
  // From a signal: /health 503, stop accepting, let running requests finish (up to
  // drain_seconds), then make serve() return. Thread-safe, idempotent.
  void shutdown();

 private:
  enum class State { Loading, Ready, Draining, Failed };

  void routes();
  void load();
  void handle_chat(const httplib::Request& req, httplib::Response& res);
  void respond_whole(const std::shared_ptr<Stream>& stream, const std::string& id, int prompt_tokens,
                     httplib::Response& res);
  void respond_stream(const std::shared_ptr<Stream>& stream, const std::string& id, int prompt_tokens,
                      bool include_usage, httplib::Response& res);
  bool authorized(const httplib::Request& req) const;

  ServerOptions options_;
  ParseLimits limits_;
  httplib::Server http_;
  Metrics metrics_;
  std::atomic<State> state_{State::Loading};
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Scheduler> scheduler_;
  std::thread loader_;
  std::mutex shutdown_mutex_;  // held through shutdown()
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> next_id_{0};
  std::atomic<int> in_flight_{0};  // chat answers being written
  std::string id_prefix_;
};

// The JSON error body and status on `res`.
void send_error(httplib::Response& res, const ApiError& e);

}  // namespace smolvk::serve
