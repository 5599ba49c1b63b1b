#pragma once
// Shared by `smolvk bench` and `smolvk profile`: options, the model (a checkpoint or random
// weights of a preset shape), the synthetic batch, cold-start measurement and one timed rep.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/batch_session.h"
#include "model/smolvlm.h"

namespace smolvk::cli {

struct BenchOptions {
  std::string model_dir;  // exactly one of model_dir / shape
  std::string shape;
  DType dtype = DType::BF16;  // random weights (shape mode)
  LoadOptions load;           // --model: --dtype bf16 keeps its f32 tensors as bf16
  int batch = 1, tiles = 1;
  int prompt_tokens = 0;  // 0 = tiles · image_seq_len + 20
  int new_tokens = 32, warmup = 1, reps = 5;
  uint64_t seed = 0;
  bool json = false, profile = false, cold_start = true;
  bool image_cache = false;  // the model's image cache on: after the warmup, every rep's images are hits
  // Also time BatchSession's decode step (the server's path) on the same batch: --batch-session.
  bool batch_session = false;
  int ctx_size = 0;  // its KV positions per slot (--ctx-size); 0 = serve_bench's 1024, or what the request needs
  std::string trace_file;
  size_t top = 10;
  double peak_gbps = 0, peak_gflops = 0;  // overrides of the device table
};

// std::invalid_argument naming the option and value on bad input.
BenchOptions parse_bench_options(const std::vector<std::string>& args, bool profile_command);
std::string bench_usage(bool profile_command);

struct StartTimes {
  double context_ms = 0;          // Vulkan instance, device, pipeline cache
  double weights_ms = 0;          // random weights generated and uploaded, or the checkpoint loaded
  double first_token_ms = 0;      // context + first generate() to its first token (weights excluded)
  double pipelines_ready_ms = 0;  // context + a 2-token generate(): every program built once
  PipelineCacheStats cache;
};

struct RepResult {
  Timings timings;
  double total_ms = 0;
  std::optional<double> decode_ms_per_step;  // from token callbacks, steps 2… (step 1 records)
  std::vector<PhaseProfile> profile;
};

// One rep of BatchSession (--batch-session): --batch copies of the request admitted together,
// stepped until each has its --new-tokens.
struct SessionRep {
  std::optional<double> decode_ms_per_step;  // between the returns of step() 1 and the last (1 records)
  // Each step() call's host split, steps 2 … N − 2 (the first may record; pipelined, the last
  // submits nothing).
  std::vector<BatchStepTimes> steps;
  size_t dispatches = 0;                     // of the decode program
  uint32_t key_bound = 0;
  std::vector<DispatchTiming> profile;  // the last step's dispatches (a session with timestamps, not pipelined)
};

class BenchSession {
 public:
  explicit BenchSession(BenchOptions options);  // makes an empty pipeline-cache directory
  ~BenchSession();                              // removes it
  BenchSession(const BenchSession&) = delete;
  BenchSession& operator=(const BenchSession&) = delete;

  // (Re)creates the context and model on the session's cache directory: the first call
  // starts with an empty pipeline cache, later ones with the cache the previous one saved.
  StartTimes start();
  RepResult run(bool profile);

  // A BatchSession of --batch slots and the --ctx-size positions (session_positions()).
  std::unique_ptr<BatchSession> make_batch_session(bool pipelined, bool timestamps);
  SessionRep run_batch_session(BatchSession& session);
  int64_t session_positions() const;

  // Prints (to stderr) and clears what the validation layer reported, if it is on.
  void print_validation_messages();

  Context& context() { return *ctx_; }
  Model& model() { return *model_; }
  const BenchOptions& options() const { return o_; }
  int prompt_tokens() const { return prompt_tokens_; }

 private:
  void build_requests();

  BenchOptions o_;
  std::filesystem::path cache_dir_;
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<Model> model_;
  std::vector<Request> requests_;
  int prompt_tokens_ = 0;
};

}  // namespace smolvk::cli
