#pragma once
// The library API that the CLI, the GUI and (later) the server all call: load a Hugging Face
// SmolVLM / Idefics3 directory, encode images, generate with a per-token callback, cancel.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "loader/config.h"
#include "loader/generation_config.h"
#include "loader/image.h"
#include "loader/preprocess.h"
#include "loader/processor_config.h"
#include "loader/prompt.h"
#include "loader/tokenizer.h"
#include "model/image_cache.h"
#include "runtime/context.h"
#include "runtime/graph.h"

namespace smolvk {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  uint64_t seed = 0;
};

// One prompt. Give exactly one of messages / prompt_text / prompt_ids / input_embeds.
struct Request {
  std::vector<ChatMessage> messages;  // chat template applied, images expanded
  std::string prompt_text;            // text with `<image>` placeholders, no template
  std::vector<int32_t> prompt_ids;    // ids as they are (image tokens already expanded)
  std::vector<Image> images;          // one per `<image>` placeholder / image item, in order
  // One per `<video>` placeholder / video item, in order: decoded and sampled (loader/video.h,
  // with frame_sampler(Model::video_processor())). A request has images or videos, not both,
  // and its videos come with messages or prompt text, which prepare() expands as
  // SmolVLMProcessor does (each frame one unsplit image, with its timestamp).
  std::vector<Video> videos;
  std::vector<float> input_embeds;    // generate from embeddings: [rows, text hidden]
  // Instead of images: the processor's output for them, pixel_values [tiles, 3, H, W] and
  // pixel_attention_mask [tiles, H, W] (e.g. a caller's own partial masks). Or, in place of
  // pixel_values, pixel_bytes: the tiles before the processor's rescale and normalize
  // (preprocess_image with PixelForm::Bytes), which the encoder normalizes on the device
  // from a quarter of the bytes, with the same result.
  std::vector<float> pixel_values;
  std::vector<uint8_t> pixel_bytes;
  std::vector<uint8_t> pixel_mask;
  int tile_height = 0, tile_width = 0;
};

struct GenerateOptions {
  int max_new_tokens = 64;
  SamplingParams sampling;
  bool ignore_eos = false;  // run all max_new_tokens (tests, benchmarks)
  bool add_generation_prompt = true;
  bool want_last_logits = false;  // keep the last prompt position's logits (--dump-logits)
  bool profile = false;           // GPU timestamps around every dispatch (Result::profile)
};

// GPU time of every dispatch of one phase ("encode", "prefill", "decode" = the last step).
struct PhaseProfile {
  std::string phase;
  std::vector<DispatchTiming> dispatches;
};

// Where a phase's wall time went on the host: creating and filling its input buffers (the
// pixel upload for the encoder), building and recording its program, and waiting for the GPU
// (run_ms). The encoder's passes overlap: pass k+1 is recorded and its pixels uploaded while
// pass k runs. With images, the prefill's inputs are uploaded and its program recorded while
// the encoder's last pass runs: that host work falls inside encode_ms (which ends when the
// host sees the encoder done), and prefill_ms is the wait from there to the prefill's end (its
// run_ms). Without images the prefill's three parts lie inside prefill_ms.
struct HostSplit {
  double upload_ms = 0, record_ms = 0, run_ms = 0;
};
struct Timings {
  double encode_ms = 0, prefill_ms = 0, decode_ms = 0, first_token_ms = 0;
  int tiles = 0, prompt_tokens = 0, new_tokens = 0;
  HostSplit encode_host, prefill_host;
  int cached_tiles = 0;  // of `tiles`, those whose rows came from the image cache (not encoded)
};

struct Result {
  std::vector<int32_t> input_ids;   // the prompt as fed (empty for input_embeds)
  std::vector<int32_t> output_ids;  // generated, the stop token included if one was hit
  std::string text;                 // output decoded, special tokens skipped
  std::string stop_reason;          // "eos", "length", "cancelled"
  std::vector<float> last_logits;   // [vocab] when GenerateOptions::want_last_logits
  Timings timings;
  std::vector<PhaseProfile> profile;  // with GenerateOptions::profile (same for every batch row)
};

// Called for every generated token of every batch row, in order; `piece` is the newly
// complete text (never half a UTF-8 character).
using TokenCallback = std::function<void(int row, int32_t id, const std::string& piece)>;
using ProgressCallback = std::function<void(const std::string& what)>;
// How far the weights upload is: bytes of the checkpoint's tensors on the device so far, of
// `total` (called after each tensor).
using UploadProgress = std::function<void(uint64_t done, uint64_t total)>;

// What a request becomes before the GPU sees it.
struct PreparedRequest {
  std::vector<int32_t> input_ids;
  // The tiles [tiles, 3, H, W] of every image, in order, in one of two forms: bytes before
  // the processor's rescale and normalize (from images or Request::pixel_bytes; the encoder
  // normalizes them on the device), or the processor's floats (Request::pixel_values).
  // Model::pixel_values gives the floats of either.
  std::vector<uint8_t> pixel_bytes;
  std::vector<float> pixel_values;
  std::vector<uint8_t> pixel_mask;  // [tiles, H, W]
  // Where the tiles are: the vectors above, or (inside Model::generate, which prepares and
  // runs in one call) the request's own pixel values or bytes, not copied.
  std::span<const float> pixels() const { return borrowed_pixels.empty() ? pixel_values : borrowed_pixels; }
  std::span<const uint8_t> bytes() const { return borrowed_bytes.empty() ? pixel_bytes : borrowed_bytes; }
  std::span<const float> borrowed_pixels;
  std::span<const uint8_t> borrowed_bytes;
  int tiles = 0, tile_height = 0, tile_width = 0;
  std::vector<ImageGrid> grids;
  std::string prompt_text;
};

// How Model::load stores the checkpoint's tensors on the device.
struct LoadOptions {
  // Tensors stored as float32 in the checkpoint (SmolVLM2-2.2B-Instruct's are) kept as bf16,
  // rounded to nearest even: half their memory, as transformers' dtype=torch.bfloat16 loads
  // them. The arithmetic stays f32. Tensors stored as bf16 or f16 are kept as they are.
  bool f32_as_bf16 = false;
};

class Model {
 public:
  static std::unique_ptr<Model> load(Context& ctx, const std::filesystem::path& dir,
                                     const ProgressCallback& progress = {}, const UploadProgress& upload = {},
                                     const LoadOptions& options = {});
  // A model of this configuration with random weights of `weight_dtype` (F32, F16 or BF16)
  // built in memory, and a small byte-level tokenizer: for benchmarks (model/random_model.cpp).
  static std::unique_ptr<Model> random(Context& ctx, const ModelConfig& config, DType weight_dtype, uint64_t seed = 0);
  ~Model();

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  const ProcessorConfig& processor() const;
  const GenerationConfig& generation_config() const;
  // The checkpoint's video processor settings, checked against the model: LoadError when the
  // model is not a SmolVLM (Idefics3's processor takes no video), when the folder has no video
  // processor settings or unreadable ones, or when its frames (max_image_size.longest_edge²)
  // are not the vision encoder's input size.
  const VideoProcessorConfig& video_processor() const;
  uint64_t parameter_count() const;
  uint64_t weight_bytes() const;
  Context& context() const;

  PreparedRequest prepare(const Request& r, bool add_generation_prompt = true) const;
  // prepare() without copying the request's pixel values: the result borrows them and is
  // valid only while `r` is.
  PreparedRequest prepare_borrowing(const Request& r, bool add_generation_prompt = true) const;
  // The processor's float pixel_values [tiles, 3, H, W] of a prepared request, whichever
  // form it holds them in.
  std::vector<float> pixel_values(const PreparedRequest& p) const;

  // A batch of requests of any lengths (left-padded internally).
  std::vector<Result> generate(std::span<const Request> batch, const GenerateOptions& options,
                               const TokenCallback& on_token = {});
  Result generate(const Request& r, const GenerateOptions& options, const TokenCallback& on_token = {});

  // Vision encoder + connector for a prepared request: [tiles, image_seq_len, text hidden]
  // (and the encoder output [tiles, patches, vision hidden] when asked). For tests/tools.
  std::vector<float> encode_images(const PreparedRequest& r, std::vector<float>* vision_out = nullptr);

  // Thread-safe: the running generate() stops after the token in flight.
  void cancel();

  // The image cache (model/image_cache.h): each image's encoder output is kept on the device,
  // up to `bytes` in all (least recently used first out), and a later request with the same
  // image — same preprocessed tiles — reuses it instead of running the vision encoder. 0 (the
  // default) turns it off and frees what it held. The rows count against the context's memory.
  void set_image_cache_budget(uint64_t bytes);
  ImageCacheStats image_cache_stats() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  PreparedRequest prepare_videos(const Request& r, bool add_generation_prompt) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smolvk
