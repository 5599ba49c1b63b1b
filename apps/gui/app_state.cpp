#include "apps/gui/app_state.h"

#include <exception>
#include <stdexcept>

namespace smolvk::gui {
namespace {

double ms_since(Clock::time_point t0, Clock::time_point t1) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// After a device-lost message: what the user can do about it.
const char* kReloadHint =
    " (the GPU device is lost: press \"Reload model\" to make a new Vulkan context and load the model again)";

std::string folder_name(const std::filesystem::path& dir) {
  auto p = dir;
  if (!p.has_filename()) p = p.parent_path();
  return p.filename().string();
}

}  // namespace

App::App(std::shared_ptr<Context> ctx, ContextFactory make_context)
    : make_context_(std::move(make_context)), ctx_(std::move(ctx)) {
  if (!ctx_) throw std::invalid_argument("App: no compute Context");
  state_.device = ctx_->caps().name;
  state_.status = "no model";
}

std::shared_ptr<Context> App::context() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

App::~App() { stop(); }

void App::add_error(const std::string& message) {
  std::lock_guard lock(mu_);
  state_.errors.push_back(message);
}

void App::dismiss_errors() {
  std::lock_guard lock(mu_);
  state_.errors.clear();
}

bool App::busy() const { return !worker_.idle(); }

void App::load_model(const std::filesystem::path& dir) {
  if (busy()) return add_error("a model load or generation is running; stop it first");
  {
    std::lock_guard lock(mu_);
    state_.loading = true;
    state_.status = "loading " + dir.string();
    model_dir_ = dir;
  }
  worker_.post([this, dir] {
    // A lost device refuses every load: start on a fresh Context, as "Reload model" does.
    if (!ctx_ || ctx_->device_lost()) {
      if (!renew_context()) return;
    }
    run_load(dir);
  });
}

void App::reload_model() {
  if (busy()) return add_error("a model load or generation is running; stop it first");
  std::filesystem::path dir;
  {
    std::lock_guard lock(mu_);
    if (!model_dir_) {
      state_.errors.push_back("no model to reload: open a model folder first");
      return;
    }
    dir = *model_dir_;
    state_.loading = true;
    state_.status = "reloading: a new Vulkan context";
  }
  worker_.post([this, dir] {
    if (renew_context()) run_load(dir);
  });
}

bool App::renew_context() {
  std::unique_ptr<ChatSession> chat;
  std::unique_ptr<Model> model;
  std::shared_ptr<Context> old;
  {
    std::lock_guard lock(mu_);
    chat = std::move(chat_);
    model = std::move(model_);
    old = std::move(ctx_);
    state_.model.reset();
    state_.turns.clear();  // their KV cache went with the old Context
    image_in_history_ = false;
    state_.status = "reloading: a new Vulkan context";
  }
  // Outside the lock (freeing takes a while; the UI keeps drawing). The chat before the model
  // it uses, every Buffer before its Context. The old Context is destroyed here, or by the
  // frame loop once it stops drawing with it (a UI that shares the compute device).
  chat.reset();
  model.reset();
  old.reset();
  try {
    std::shared_ptr<Context> fresh = make_context_();
    std::lock_guard lock(mu_);
    ctx_ = std::move(fresh);
    state_.device = ctx_->caps().name;
    ++state_.reloads;
    return true;
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    state_.errors.push_back(std::string("cannot make a new Vulkan context: ") + e.what());
    state_.status = "no model (no Vulkan context)";
    state_.loading = false;
    return false;
  }
}

void App::run_load(const std::filesystem::path& dir) {
  try {
    auto t0 = Clock::now();
    auto m = Model::load(*ctx_, dir, [&](const std::string& what) {
      std::lock_guard lock(mu_);
      state_.status = what + "...";
    });
    ModelInfo info;
    info.dir = dir;
    info.name = m->config().architecture_name + " (" + folder_name(dir) + ")";
    // The demo checkpoint is shipped with random weights; tell its users so.
    std::error_code ec;
    info.random_weights = std::filesystem::equivalent(dir, SMOLVK_DEMO_MODEL_DIR, ec);
    info.parameters = m->parameter_count();
    info.weight_bytes = m->weight_bytes();
    info.image_seq_len = m->processor().image_seq_len;
    auto chat = std::make_unique<ChatSession>(*m);
    std::unique_ptr<ChatSession> old_chat;
    std::unique_ptr<Model> old_model;
    {
      std::lock_guard lock(mu_);
      old_chat = std::move(chat_);
      old_model = std::move(model_);
      chat_ = std::move(chat);
      model_ = std::move(m);
      processor_ = model_->processor();
      ++model_version_;
      state_.model = info;
      state_.turns.clear();
      image_in_history_ = false;
      state_.status = "ready (loaded in " + std::to_string(int(ms_since(t0, Clock::now()))) + " ms)";
    }
    old_chat.reset();  // the old chat goes before the model it uses
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    std::string msg = std::string("cannot load the model: ") + e.what();  // names the folder
    if (ctx_->device_lost()) msg += kReloadHint;
    state_.errors.push_back(msg);
    state_.status = model_ ? "ready" : "no model";
  }
  std::lock_guard lock(mu_);
  state_.loading = false;
}

void App::inject_device_lost(uint32_t nth_submit) {
  if (busy()) return add_error("cannot inject a fault while a load or generation runs");
  std::shared_ptr<Context> ctx = context();
  if (!ctx) return add_error("cannot inject a fault: no Vulkan context");
  ctx->inject_fault(Fault::DeviceLostOnNextSubmit, nth_submit);
}

void App::open_image(const std::filesystem::path& path) {
  try {
    OpenImage img;
    img.path = path;
    img.image = load_image(path);
    image_ = std::move(img);
    {
      std::lock_guard lock(mu_);
      image_in_history_ = false;
    }
    grid_version_ = -1;
    update_grid();
  } catch (const std::exception& e) {
    add_error(std::string("cannot open the image: ") + e.what());  // the loader names the file
  }
}

void App::tick() {
  if (grid_version_ != model_version_) update_grid();
}

void App::update_grid() {
  std::optional<ProcessorConfig> proc;
  {
    std::lock_guard lock(mu_);
    proc = processor_;
    grid_version_ = model_version_;
  }
  if (!image_ || !proc) return;
  try {
    // The same loader code the model runs, so the overlay is the grid it will see.
    ProcessedImage p = image_layout(image_->image, *proc);
    image_->grid = p.grid();
    image_->tiles = p.num_tiles;
    image_->visual_tokens = p.num_tiles * proc->image_seq_len;
  } catch (const std::exception& e) {
    image_->grid.reset();
    add_error("image " + image_->path.string() + ": " + e.what());
  }
}

void App::generate(const std::string& prompt) {
  if (busy()) return add_error("a model load or generation is already running");
  {
    std::lock_guard lock(mu_);
    if (ctx_ && ctx_->device_lost()) {
      state_.errors.push_back(std::string("cannot generate: the GPU device is lost") + kReloadHint);
      return;
    }
    if (!model_) {
      state_.errors.push_back("no model loaded: open a model folder first");
      return;
    }
  }
  if (prompt.empty()) return add_error("the prompt is empty: type a question first");

  // The open image goes with the first turn after it was opened; `smolvk run` builds the
  // same first turn (image item, then the text, in one user message).
  bool with_image = image_ && !image_in_history_;
  std::vector<Image> images;
  if (with_image) images.push_back(image_->image);

  GenerateOptions opts;
  opts.max_new_tokens = settings.max_new_tokens;
  opts.sampling = settings.sampling;
  opts.profile = true;
  if (opts.max_new_tokens < 1) return add_error("max new tokens must be at least 1");

  {
    std::lock_guard lock(mu_);
    Turn t;
    t.prompt = prompt;
    t.with_image = with_image;
    state_.turns.push_back(std::move(t));
    state_.generating = true;
    state_.status = "generating";
  }
  auto clicked = Clock::now();
  worker_.post([this, images = std::move(images), opts, prompt, clicked]() mutable {
    run_generation(prompt, std::move(images), opts, clicked);
  });
}

void App::run_generation(std::string prompt, std::vector<Image> images, GenerateOptions opts,
                         Clock::time_point clicked) {
  std::optional<Clock::time_point> first;
  int count = 0;
  try {
    Result r = chat_->send(prompt, images, opts, [&](int, int32_t id, const std::string& piece) {
      auto now = Clock::now();
      std::unique_lock lock(mu_);
      Turn& t = state_.turns.back();
      t.output_ids.push_back(id);
      t.text += piece;
      ++count;
      if (!first) {
        first = now;
        t.first_token_wall_ms = ms_since(clicked, now);
      } else {
        t.tokens_per_s = (count - 1) * 1000.0 / ms_since(*first, now);
      }
      if (pause_at_ > 0 && count == pause_at_) {
        pause_at_ = 0;
        paused_ = true;
        pause_cv_.wait(lock, [&] { return !paused_; });
      }
    });
    std::lock_guard lock(mu_);
    Turn& t = state_.turns.back();
    t.input_ids = r.input_ids;
    t.output_ids = r.output_ids;
    t.text = r.text;
    t.stop_reason = r.stop_reason;
    t.timings = r.timings;
    t.profile = std::move(r.profile);
    if (r.timings.new_tokens > 1 && r.timings.decode_ms > 0)
      t.tokens_per_s = (r.timings.new_tokens - 1) * 1000.0 / r.timings.decode_ms;
    t.done = true;
    if (!images.empty()) image_in_history_ = true;
    state_.status = "ready";
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    state_.errors.push_back("generate \"" + prompt + "\": " + e.what() + (ctx_->device_lost() ? kReloadHint : ""));
    state_.turns.back().stop_reason = "error";
    state_.turns.back().done = true;
    state_.status = "ready";
  }
  std::lock_guard lock(mu_);
  state_.generating = false;
  paused_ = false;
  pause_at_ = 0;
}

void App::stop() {
  std::lock_guard lock(mu_);
  if (model_ && state_.generating) model_->cancel();
  paused_ = false;
  pause_cv_.notify_all();
}

void App::pause_after_token(int n) {
  std::lock_guard lock(mu_);
  pause_at_ = n;
}

void App::resume() {
  std::lock_guard lock(mu_);
  paused_ = false;
  pause_cv_.notify_all();
}

bool App::generating() const {
  std::lock_guard lock(mu_);
  return state_.generating;
}

bool App::paused() const {
  std::lock_guard lock(mu_);
  return paused_;
}

int App::streamed_tokens() const {
  std::lock_guard lock(mu_);
  return state_.turns.empty() ? 0 : int(state_.turns.back().output_ids.size());
}

void App::clear_chat() {
  if (busy()) return add_error("stop the generation before clearing the chat");
  if (chat_) chat_->reset();
  std::lock_guard lock(mu_);
  state_.turns.clear();
  image_in_history_ = false;
}

Snapshot App::snapshot() const {
  Snapshot s;
  std::shared_ptr<Context> ctx;
  {
    std::lock_guard lock(mu_);
    s = state_;
    ctx = ctx_;
  }
  if (ctx) {
    s.device_bytes_in_use = ctx->device_bytes_in_use();
    s.device_lost = ctx->device_lost();
  }
  return s;
}

}  // namespace smolvk::gui
