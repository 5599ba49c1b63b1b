#include "apps/server/server.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "apps/cli/model_args.h"
#include "loader/error.h"

namespace smolvk::serve {

using nlohmann::json;

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(e.to_json(), "application/json");
}

namespace {
bool same_secret(const std::string& a, const std::string& b) {  // no early exit on a mismatch
  unsigned diff = unsigned(a.size() ^ b.size());
  for (size_t i = 0; i < a.size(); ++i) diff |= unsigned(uint8_t(a[i]) ^ uint8_t(i < b.size() ? b[i] : 0));
  return diff == 0;
}
}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {
  limits_.max_images = size_t(options_.max_images);
  limits_.max_image_pixels = options_.max_image_pixels;
  limits_.image_root = options_.image_root;
  std::random_device rd;
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%08x", rd());
  id_prefix_ = std::string("chatcmpl-") + prefix + "-";
  const int threads = options_.threads > 0 ? options_.threads : options_.max_batch + options_.max_queue + 8;
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  http_.set_payload_max_length(options_.max_body_bytes);
  http_.set_keep_alive_timeout(2);
  routes();
}

Server::~Server() {
  shutdown();
  if (loader_.joinable()) loader_.join();
  std::lock_guard lock(shutdown_mutex_);
  scheduler_.reset();
  model_.reset();
  ctx_.reset();
}

int Server::bind() {
  // Debian's cpp-httplib is a compiled library that listens with a backlog of 5 (a
  // CPPHTTPLIB_LISTEN_BACKLOG of ours does not reach it). Clients that connect together past
  // that lose their SYN and retry a second later: serve_bench saw rounds whose slowest client
  // got its first token after ~1 s. The socket-options hook hands over the listening socket
  // before it is bound; after the bind it listens again with a deep backlog (Linux takes a
  // second listen() on a listening socket as its new backlog).
  int listening = -1;
  http_.set_socket_options([&listening](socket_t sock) {
    httplib::default_socket_options(sock);
    listening = sock;
  });
  const int port = options_.port == 0 ? http_.bind_to_any_port(options_.host)
                                      : (http_.bind_to_port(options_.host, options_.port) ? options_.port : -1);
  http_.set_socket_options(httplib::default_socket_options);
  if (port < 0) throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port));
  if (listening < 0 || ::listen(listening, kListenBacklog) != 0)
    throw std::runtime_error("cannot deepen the listen backlog of " + options_.host + ":" + std::to_string(port) +
                             " to " + std::to_string(kListenBacklog) + " (" + std::strerror(errno) + ")");
  return port;
}

bool Server::serve() {
  loader_ = std::thread([this] { load(); });
  http_.listen_after_bind();
  if (loader_.joinable()) loader_.join();
  return state_ != State::Failed;
}

void Server::load() {
  try {
    ContextOptions o = ContextOptions::from_env();
    o.on_validation_message = [](const std::string& m) {
      std::fprintf(stderr, "smolvk-serve: Vulkan validation: %s\n", m.c_str());
    };
    ctx_ = std::make_unique<Context>(o);
    model_ = cli::load_model(*ctx_, options_.model_dir, false, nullptr, options_.load);
    model_->set_image_cache_budget(uint64_t(options_.image_cache_mb) << 20);
    try {  // video_url parts: the model's video processor picks the frames (else they are refused)
      limits_.video_sampler = frame_sampler(model_->video_processor());
    } catch (const LoadError& e) {
      limits_.video_refusal = std::string("this server's model takes no video: ") + e.what();
    }
    const int64_t context = model_->config().text.max_position_embeddings;
    if (options_.ctx_size > context)
      throw std::invalid_argument("--ctx-size " + std::to_string(options_.ctx_size) +
                                  " exceeds the model's context of " + std::to_string(context) + " positions");
    std::lock_guard lock(shutdown_mutex_);  // shutdown() reads scheduler_
    scheduler_ =
        make_scheduler(*model_,
                       {options_.max_batch, options_.max_queue, std::chrono::milliseconds(options_.batch_window_ms),
                        options_.ctx_size ? options_.ctx_size : std::min<int64_t>(context, 4096),
                        std::chrono::milliseconds(options_.join_window_ms), options_.pipeline_decode,
                        options_.max_prefill_tokens},
                       metrics_);
    limits_.context_length = scheduler_->positions();
    State loading = State::Loading;
    if (state_.compare_exchange_strong(loading, State::Ready)) {
      metrics_.model_ready(true);
      std::fprintf(stderr, "smolvk-serve: ready: serving %s\n", options_.model_id.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smolvk-serve: error: cannot load the model: %s\n", e.what());
    state_ = State::Failed;
    http_.stop();
  }
}

void Server::shutdown() {
  std::lock_guard lock(shutdown_mutex_);
  if (shutting_down_.exchange(true)) return;
  if (state_ != State::Failed) state_ = State::Draining;
  metrics_.model_ready(false);
  // New requests get 503 from here on. httplib cuts streamed answers short once stopped, so it
  // stops only after every answer in flight has been written (or the deadline has passed).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options_.drain_seconds);
  if (scheduler_) scheduler_->drain(deadline);
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(2))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  http_.stop();
}

bool Server::authorized(const httplib::Request& req) const {
  if (options_.api_key.empty() || req.path == "/health") return true;
  return same_secret(req.get_header_value("Authorization"), "Bearer " + options_.api_key);
}

void Server::routes() {
  http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, {401, "missing or wrong API key (send 'Authorization: Bearer KEY')", "authentication_error", "",
                     "invalid_api_key"});
    return httplib::Server::HandlerResponse::Handled;
  });
  // httplib's own answers (404, 413 body over --max-body-bytes, 400 bad HTTP) get a JSON body.
  http_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const bool too_big = res.status == 413;
    const bool form = req.get_header_value("Content-Type").find("x-www-form-urlencoded") != std::string::npos;
    send_error(res, {res.status,
                     too_big ? form ? "form-encoded bodies are limited to 8 KiB: send Content-Type: application/json"
                                    : "the request body is over the limit (--max-body-bytes)"
                     : res.status == 404 ? "no route " + req.method + " " + req.path
                                         : "bad HTTP request (" + std::to_string(res.status) + ")",
                     "invalid_request_error", "", too_big ? "request_too_large" : ""});
  });
  http_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, {500, what, "server_error", "", ""});
  });
  http_.set_logger(
      [this](const httplib::Request&, const httplib::Response& res) { metrics_.request_finished(res.status); });

  http_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const State s = state_;
    res.status = s == State::Ready ? 200 : 503;
    const char* status = s == State::Ready      ? "ok"
                         : s == State::Loading  ? "loading"
                         : s == State::Draining ? "shutting down"
                                                : "failed";
    res.set_content(json{{"status", status}}.dump(), "application/json");
  });
  http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json m = {{"id", options_.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "smolvk"}};
    if (state_ == State::Ready) m["context_length"] = limits_.context_length;
    res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
  });
  http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    if (state_ == State::Ready || state_ == State::Draining) metrics_.image_cache(model_->image_cache_stats());
    res.set_content(metrics_.render(), "text/plain; version=0.0.4");
  });
  http_.Post("/v1/chat/completions",
             [this](const httplib::Request& req, httplib::Response& res) { handle_chat(req, res); });
}

}  // namespace smolvk::serve
