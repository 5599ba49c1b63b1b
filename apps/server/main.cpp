// smolvk-serve (also `smolvk serve`): an OpenAI-compatible HTTP server for SmolVLM.
#include <pthread.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "apps/cli/args.h"
#include "apps/cli/model_args.h"
#include "apps/server/server.h"

namespace {

const char* kHelp =
    "usage: smolvk-serve [--model DIR] [--host ADDR] [--port N] [options]\n"
    "       smolvk serve ... (the same)\n"
    "\n"
    "Serves the model over HTTP with OpenAI's chat API: POST /v1/chat/completions (streaming\n"
    "with \"stream\": true), GET /v1/models, GET /health (503 while the model loads, 200 when\n"
    "ready), GET /metrics (Prometheus text). One thread owns the GPU: queued requests join the\n"
    "running decode batch between steps, each with its own sampling settings. SIGTERM / SIGINT:\n"
    "stop accepting, let running requests finish (up to --drain-seconds), exit 0. Content parts:\n"
    "text, image_url, and (SmolVLM2 checkpoints) one video_url per request, {\"type\": \"video_url\",\n"
    "\"video_url\": {\"url\": \"data:video/mp4;base64,...\"}}, sampled and laid out as by\n"
    "'smolvk run --video'.\n"
    "\n"
    "  --model DIR             Hugging Face SmolVLM / Idefics3 folder. Default: the demo checkpoint\n"
    "                          in examples/demo-model (random weights: gibberish answers).\n"
    "  --dtype auto|bf16       auto (default): tensors as the checkpoint stores them; bf16: its f32\n"
    "                          tensors kept as bf16, half their memory (as 'smolvk run --dtype')\n"
    "  --model-id NAME         the name /v1/models lists and responses carry (default: the folder's)\n"
    "  --host ADDR             address to bind (default 127.0.0.1: this machine only)\n"
    "  --port N                TCP port (default 8080; 0 picks a free one). The actual address is\n"
    "                          printed on stderr: 'smolvk-serve: listening on http://HOST:PORT'\n"
    "  --api-key KEY           require 'Authorization: Bearer KEY' on every endpoint but /health\n"
    "                          (or set SMOLVK_API_KEY, which keeps the key out of the process list)\n"
    "  --image-root DIR        also accept image_url / video_url paths and file:// URLs inside DIR\n"
    "                          (default: data: URLs only); a path resolving outside DIR is refused\n"
    "  --max-batch N           most requests decoding at once (default 8, at most 96): continuous\n"
    "                          batching, a new request joins the running batch at its next step\n"
    "  --ctx-size N            KV positions per request, prompt + answer (default: the model's context,\n"
    "                          at most 4096); the KV cache of max-batch x N positions is allocated at start\n"
    "  --max-queue N           most requests waiting for the GPU; past it: 429 + Retry-After (default 64)\n"
    "  --batch-window-ms N     on an idle GPU, how long the first request waits for others to be prefilled\n"
    "                          with, while fewer than --max-batch wait and others are still being\n"
    "                          parsed (default 5; 0 = start at once; a lone request never waits)\n"
    "  --join-window-ms N      while a batch decodes, how long a new request may wait for others to\n"
    "                          join it in one prefill (default 0: join at the next step); the running\n"
    "                          requests then stall once per group, not once per newcomer\n"
    "  --max-prefill-tokens N  while a batch decodes, the most prompt tokens (images' included) one\n"
    "                          gap between two decode steps may prefill (default 0: no limit): queued\n"
    "                          requests are admitted oldest first while they fit, at least one per gap,\n"
    "                          the rest at the next gaps in arrival order; bounds how long running\n"
    "                          requests stall for newcomers. An idle GPU admits without it\n"
    "  --max-body-bytes N      largest request body (default 33554432); over it: 413\n"
    "  --max-image-pixels N    largest image or video frame, width x height, checked before decoding\n"
    "                          (default 16777216)\n"
    "  --max-images N          most images per request (default 8)\n"
    "  --default-max-tokens N  max_tokens when a request gives none (default 512; never past the context)\n"
    "  --threads N             HTTP worker threads, one per open connection (default max-batch +\n"
    "                          max-queue + 8)\n"
    "  --drain-seconds N       on SIGTERM, how long running requests may take (default 30)\n"
    "  --image-cache-mb N      device memory for the encoder output of recent images (default 256;\n"
    "                          0 = off): a request with an image seen before skips the vision encoder\n"
    "  --pipeline-decode 0|1   1 (default, or $SMOLVK_PIPELINE_DECODE): submit each decode step before\n"
    "                          the last one's tokens are detokenized and streamed, hiding that host\n"
    "                          work behind the GPU; 0: one step at a time (the same tokens)\n"
    "\n"
    "Request extensions: top_k, ignore_eos; every response carries the generated token ids as\n"
    "\"smolvk\": {\"token_ids\": [...]} (per chunk when streaming).\n";

int positive(const smolvk::cli::Args& a, const char* name, int64_t def) {
  const int64_t v = a.get_int(name, def);
  if (v < 1 || v > INT32_MAX) throw std::invalid_argument(std::string("--") + name + " must be a positive integer");
  return int(v);
}

smolvk::serve::ServerOptions parse_options(const smolvk::cli::Args& a) {
  smolvk::serve::ServerOptions o;
  o.host = a.get("host", o.host);
  const int64_t port = a.get_int("port", o.port);
  if (port < 0 || port > 65535) throw std::invalid_argument("--port must be 0..65535");
  o.port = int(port);
  o.model_dir = smolvk::cli::model_dir(a);
  o.load = smolvk::cli::load_options_from(a);
  o.model_id = a.get("model-id", std::filesystem::path(o.model_dir).lexically_normal().filename().string());
  if (o.model_id.empty())
    o.model_id = std::filesystem::path(o.model_dir).lexically_normal().parent_path().filename().string();
  const char* env_key = std::getenv("SMOLVK_API_KEY");
  o.api_key = a.get("api-key", env_key ? env_key : "");
  o.image_root = a.get("image-root");
  if (!o.image_root.empty() && !std::filesystem::is_directory(o.image_root))
    throw std::invalid_argument("--image-root " + o.image_root.string() + " is not a folder");
  o.max_batch = positive(a, "max-batch", o.max_batch);
  if (o.max_batch > 96) throw std::invalid_argument("--max-batch must be 1..96, got " + std::to_string(o.max_batch));
  if (a.has("ctx-size")) o.ctx_size = positive(a, "ctx-size", int64_t(4096));
  o.max_queue = positive(a, "max-queue", o.max_queue);
  o.batch_window_ms = int(a.get_int("batch-window-ms", o.batch_window_ms));
  if (o.batch_window_ms < 0 || o.batch_window_ms > 10000)
    throw std::invalid_argument("--batch-window-ms must be 0..10000");
  o.join_window_ms = int(a.get_int("join-window-ms", o.join_window_ms));
  if (o.join_window_ms < 0 || o.join_window_ms > 10000) throw std::invalid_argument("--join-window-ms must be 0..10000");
  o.max_body_bytes = size_t(positive(a, "max-body-bytes", int64_t(o.max_body_bytes)));
  o.max_image_pixels = positive(a, "max-image-pixels", o.max_image_pixels);
  o.max_images = positive(a, "max-images", o.max_images);
  o.default_max_tokens = positive(a, "default-max-tokens", o.default_max_tokens);
  o.threads = a.has("threads") ? positive(a, "threads", 0) : 0;
  o.drain_seconds = positive(a, "drain-seconds", o.drain_seconds);
  o.image_cache_mb = a.get_int("image-cache-mb", o.image_cache_mb);
  if (o.image_cache_mb < 0 || o.image_cache_mb > (int64_t(1) << 30))
    throw std::invalid_argument("--image-cache-mb must be 0 (off) or a size in MiB");
  const char* env_pipeline = std::getenv("SMOLVK_PIPELINE_DECODE");
  const std::string pipeline = a.get("pipeline-decode", env_pipeline && *env_pipeline ? env_pipeline : "1");
  if (pipeline != "0" && pipeline != "1")
    throw std::invalid_argument("--pipeline-decode (or SMOLVK_PIPELINE_DECODE) must be 0 or 1, got '" + pipeline + "'");
  o.pipeline_decode = pipeline == "1";
  if (a.has("max-prefill-tokens")) {
    const std::string v = a.get("max-prefill-tokens");
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || n < 0 || n > INT32_MAX)
      throw std::invalid_argument("--max-prefill-tokens '" + v +
                                  "': expected 0 (no limit) or a number of prompt tokens from 1 to " +
                                  std::to_string(INT32_MAX));
    o.max_prefill_tokens = int(n);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  using smolvk::cli::Args;
  try {
    Args a(std::vector<std::string>(argv + 1, argv + argc), {{"model", true},
                                                             {"model-id", true},
                                                             {"host", true},
                                                             {"port", true},
                                                             {"api-key", true},
                                                             {"image-root", true},
                                                             {"dtype", true},
                                                             {"max-batch", true},
                                                             {"ctx-size", true},
                                                             {"max-queue", true},
                                                             {"batch-window-ms", true},
                                                             {"join-window-ms", true},
                                                             {"max-body-bytes", true},
                                                             {"max-image-pixels", true},
                                                             {"max-images", true},
                                                             {"default-max-tokens", true},
                                                             {"threads", true},
                                                             {"drain-seconds", true},
                                                             {"image-cache-mb", true},
                                                             {"pipeline-decode", true},
                                                             {"max-prefill-tokens", true},
                                                             {"help", false}});
    if (a.has("help")) {
      std::fputs(kHelp, stdout);
      return 0;
    }
    const smolvk::serve::ServerOptions options = parse_options(a);
    // Signals go to one thread (every thread started below inherits the mask); SIGUSR1 only
    // wakes it at the end.
    std::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    smolvk::serve::Server server(options);
    const int port = server.bind();
    std::fprintf(stderr, "smolvk-serve: listening on http://%s:%d\n", options.host.c_str(), port);
    std::fflush(stderr);
    std::thread signals([&] {
      int sig = 0;
      sigwait(&set, &sig);
      if (sig == SIGUSR1) return;
      std::fprintf(stderr, "smolvk-serve: %s: finishing running requests, then exiting\n", strsignal(sig));
      server.shutdown();
    });
    const bool ok = server.serve();
    pthread_kill(signals.native_handle(), SIGUSR1);
    signals.join();
    std::fprintf(stderr, "smolvk-serve: stopped\n");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smolvk-serve: error: %s\n", e.what());
    return 1;
  }
}
