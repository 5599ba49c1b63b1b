#pragma once
// Everything the window shows and every action it offers, independent of how frames reach
// the screen. Actions come from the UI thread (buttons, drag-and-drop, a script); model loads
// and generations run on the worker thread and publish their progress under a mutex.
// Errors (bad image, bad model dir, context overflow, a lost device) land in errors(), never
// in a throw. A lost device cannot be used again: reload_model() drops the model, the chat and
// the Context and makes fresh ones.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apps/gui/worker.h"
#include "model/chat_session.h"
#include "model/smolvlm.h"

namespace smolvk::gui {

using Clock = std::chrono::steady_clock;

struct Settings {
  int max_new_tokens = 32;
  SamplingParams sampling;
};

struct ModelInfo {
  std::filesystem::path dir;
  std::string name;  // architecture and folder name
  bool random_weights = false;
  uint64_t parameters = 0, weight_bytes = 0;
  int image_seq_len = 0;
};

struct OpenImage {
  std::filesystem::path path;
  Image image;
  // Filled from the model's processor (empty until a model is loaded).
  std::optional<ImageGrid> grid;
  int tiles = 0, visual_tokens = 0;
};

struct Turn {
  std::string prompt;
  bool with_image = false;
  std::vector<int32_t> input_ids, output_ids;
  std::string text, stop_reason;
  Timings timings;                    // the library's, at the end of the turn
  double first_token_wall_ms = 0;     // click → first token, as the UI saw it
  double tokens_per_s = 0;            // decode rate (tokens after the first)
  std::vector<PhaseProfile> profile;  // GPU time per dispatch: encode / prefill / decode
  bool done = false;
};

// What the UI reads each frame (a copy, taken under the lock).
struct Snapshot {
  std::optional<ModelInfo> model;
  std::string status;  // "loading ...", "generating", "ready"
  bool loading = false, generating = false;
  std::vector<Turn> turns;  // the last one may be streaming
  std::vector<std::string> errors;
  uint64_t device_bytes_in_use = 0;
  std::string device;
  bool device_lost = false;  // the compute Context reported VK_ERROR_DEVICE_LOST: only a reload helps
  int reloads = 0;           // fresh Contexts made by reload_model() (and by loads after a loss)
};

// Makes the compute Context: again on every reload (a lost device cannot be reused).
using ContextFactory = std::function<std::shared_ptr<Context>()>;

class App {
 public:
  // `ctx` runs generation until a reload replaces it with one from `make_context`.
  App(std::shared_ptr<Context> ctx, ContextFactory make_context);
  ~App();

  // UI-thread actions.
  void load_model(const std::filesystem::path& dir);  // on the worker (a lost Context is replaced first)
  // "Reload model": on the worker, drops the chat, the model and the Context, makes a fresh
  // Context and loads the last model folder again.
  void reload_model();
  // Scripts and tests: the n-th queue submit from now on the compute Context reports
  // VK_ERROR_DEVICE_LOST (Context::inject_fault). Refused while a load or generation runs.
  void inject_device_lost(uint32_t nth_submit);
  void open_image(const std::filesystem::path& path);
  void generate(const std::string& prompt);  // on the worker; ignored while busy
  void stop();                               // cancels within one token
  void clear_chat();
  void dismiss_errors();
  void add_error(const std::string& message);
  // Scripts: hold the worker after the n-th token of the next turn until resume() or stop(),
  // so "Stop after 3 tokens" is deterministic however fast decode runs.
  void pause_after_token(int n);
  void resume();
  // Once per frame on the UI thread: picks up a newly loaded model's processor for the tile grid.
  void tick();

  Settings settings;
  std::string prompt_box;
  const std::optional<OpenImage>& image() const { return image_; }

  Snapshot snapshot() const;
  bool busy() const;  // a load or generation queued or running
  bool generating() const;
  int streamed_tokens() const;  // tokens of the current / last turn
  bool paused() const;
  // The compute Context now; null while a reload is between the old one and the new one. The
  // frame loop draws with it when the UI shares the device ("--ui-device shared").
  std::shared_ptr<Context> context() const;

 private:
  void update_grid();  // UI thread
  // Worker-thread job bodies.
  void run_load(const std::filesystem::path& dir);
  bool renew_context();  // false (error shown) when no new Context could be made
  void run_generation(std::string prompt, std::vector<Image> images, GenerateOptions opts, Clock::time_point clicked);

  ContextFactory make_context_;
  // Replaced only by worker jobs (under mu_, so the UI thread may read it). Declared before
  // the model and the chat: every Buffer goes before its Context.
  std::shared_ptr<Context> ctx_;
  // Replaced only by load jobs, which run when nothing generates. The chat keeps its KV
  // cache, image features included, between turns; only the worker thread uses it.
  std::unique_ptr<Model> model_;
  std::unique_ptr<ChatSession> chat_;
  std::optional<OpenImage> image_;
  bool image_in_history_ = false;  // the open image was sent with an earlier turn

  mutable std::mutex mu_;
  std::condition_variable pause_cv_;
  Snapshot state_;
  int pause_at_ = 0;
  bool paused_ = false;
  std::optional<ProcessorConfig> processor_;        // of the loaded model, set by the load job
  std::optional<std::filesystem::path> model_dir_;  // the last folder a load was asked for
  int model_version_ = 0, grid_version_ = 0;
  Worker worker_;  // last: joined first on destruction
};

}  // namespace smolvk::gui
