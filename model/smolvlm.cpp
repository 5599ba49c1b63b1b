// Model: loading, request preparation and the encode → prefill → decode loop.
#include "model/model_impl.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <stdexcept>

#include "loader/error.h"
#include "loader/checkpoint.h"
#include "loader/safetensors.h"
#include "loader/weights.h"
#include "model/graphs.h"
#include "model/ops/common.h"
#include "model/ops/embedding.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/position_ids.h"
#include "model/ops/rope.h"
#include "model/ops/splice.h"

namespace smolvk {
namespace {
// The vision encoder takes as many tiles per pass as keep its activations within this budget
// (the kernel policy's vision_chunk_tiles sets a tile count instead): one pass for a 17-tile image with f16
// activations, bounded memory for many images.
constexpr uint64_t kVisionPassBytes = 512ull << 20;

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

size_t count_occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}
}  // namespace

const DeviceTensor& Model::Impl::rope_for(int64_t capacity) {
  if (!rope_table.valid() || rope_table.shape[0] < capacity) {
    const auto& t = config.text;
    auto table = ops::rope_table(capacity, int(t.head_dim), t.rope_theta,
                                 t.rope_scaling.kind == RopeKind::Default ? nullptr : &t.rope_scaling);
    rope_table = {upload_vector(ctx, table), DType::F32, {capacity, t.head_dim / 2, 2}};
  }
  return rope_table;
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::unique_ptr<Model> Model::load(Context& ctx, const std::filesystem::path& dir, const ProgressCallback& progress,
                                   const UploadProgress& upload, const LoadOptions& options) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  say("reading config");
  auto impl = std::make_unique<Impl>(ctx, Checkpoint::open(dir));
  Impl& I = *impl;

  say("mapping weights");
  SafeTensors tensors = I.weights_file();
  WeightSet ws = map_weights(I.config, tensors);
  say("uploading weights");
  uint64_t total = 0;  // map_weights refuses unused tensors: every tensor is uploaded
  for (const std::string& name : tensors.names()) total += tensors.at(name).bytes;
  if (upload) upload(0, total);
  I.weights = upload_weights(ctx, I.config, ws, ops::tensor_core_weight_dtype(ctx.caps()),
                             ops::vision_attention_head_dim(ctx.caps(), I.config.vision.head_dim),
                             [&](uint64_t done) {
                               if (upload) upload(done, total);
                             },
                             options.f32_as_bf16);
  return std::unique_ptr<Model>(new Model(std::move(impl)));
}

const ModelConfig& Model::config() const { return impl_->config; }
const Tokenizer& Model::tokenizer() const { return impl_->tokenizer; }
const ProcessorConfig& Model::processor() const { return impl_->processor; }
const GenerationConfig& Model::generation_config() const { return impl_->generation; }

const VideoProcessorConfig& Model::video_processor() const {
  const Impl& I = *impl_;
  if (I.config.architecture != Architecture::SmolVLM)
    throw LoadError(I.dir.string() + ": " + I.config.architecture_name +
                    " takes no video (transformers' Idefics3Processor has no video processor); SmolVLM / SmolVLM2 "
                    "checkpoints do");
  if (!I.processor.video_error.empty()) throw LoadError(I.processor.video_error);
  if (!I.processor.video)
    throw LoadError(I.dir.string() +
                    ": no video processor settings (a \"video_processor\" object in processor_config.json, "
                    "video_preprocessor_config.json or preprocessor_config.json)");
  const VideoProcessorConfig& v = *I.processor.video;
  if (v.do_resize && v.frame_side() != I.config.vision.image_size)
    throw LoadError(v.source + ": the video processor makes " + std::to_string(v.frame_side()) + "x" +
                    std::to_string(v.frame_side()) + " frames (max_image_size.longest_edge) but the vision encoder takes " +
                    std::to_string(I.config.vision.image_size) + "x" + std::to_string(I.config.vision.image_size) +
                    " (config.json vision_config.image_size); transformers would fail on them too");
  return v;
}
uint64_t Model::parameter_count() const { return impl_->weights.parameters; }
uint64_t Model::weight_bytes() const { return impl_->weights.bytes; }
Context& Model::context() const { return impl_->ctx; }
void Model::cancel() { impl_->cancel = true; }
void Model::set_image_cache_budget(uint64_t bytes) { impl_->image_cache.set_budget(bytes); }
ImageCacheStats Model::image_cache_stats() const { return impl_->image_cache.stats(); }

PreparedRequest Model::prepare(const Request& r, bool add_generation_prompt) const {
  PreparedRequest p = prepare_borrowing(r, add_generation_prompt);
  if (!p.borrowed_pixels.empty()) {
    p.pixel_values.assign(p.borrowed_pixels.begin(), p.borrowed_pixels.end());
    p.borrowed_pixels = {};
  }
  if (!p.borrowed_bytes.empty()) {
    p.pixel_bytes.assign(p.borrowed_bytes.begin(), p.borrowed_bytes.end());
    p.borrowed_bytes = {};
  }
  return p;
}

std::vector<float> Model::pixel_values(const PreparedRequest& p) const {
  if (p.bytes().empty()) return {p.pixels().begin(), p.pixels().end()};
  return normalize_pixels(p.bytes(), pixel_lut(impl_->processor), int64_t(p.tile_height) * p.tile_width);
}

PreparedRequest Model::prepare_borrowing(const Request& r, bool add_generation_prompt) const {
  const Impl& I = *impl_;
  PreparedRequest p;
  int sources = !r.messages.empty() + !r.prompt_text.empty() + !r.prompt_ids.empty() + !r.input_embeds.empty();
  if (sources != 1)
    throw std::invalid_argument(
        "a request needs exactly one of messages, prompt text, prompt ids "
        "or input embeddings (got " +
        std::to_string(sources) + ")");
  if (!r.videos.empty()) return prepare_videos(r, add_generation_prompt);
  std::vector<ProcessedImage> images;
  for (const Image& im : r.images) images.push_back(preprocess_image(im, I.processor, PixelForm::Bytes));
  for (auto& im : images) {
    if (p.tiles && (im.height != p.tile_height || im.width != p.tile_width))
      throw std::invalid_argument("images of one request must give tiles of one size");
    p.tile_height = im.height;
    p.tile_width = im.width;
    p.tiles += im.num_tiles;
    if (p.pixel_bytes.empty())
      p.pixel_bytes = std::move(im.pixel_bytes);
    else
      p.pixel_bytes.insert(p.pixel_bytes.end(), im.pixel_bytes.begin(), im.pixel_bytes.end());
    p.pixel_mask.insert(p.pixel_mask.end(), im.pixel_mask.begin(), im.pixel_mask.end());
    p.grids.push_back(im.grid());
  }
  if (!r.pixel_values.empty() || !r.pixel_bytes.empty()) {
    if (!r.images.empty()) throw std::invalid_argument("give images or pixel values, not both");
    if (!r.pixel_values.empty() && !r.pixel_bytes.empty())
      throw std::invalid_argument("give pixel values or pixel bytes, not both");
    const size_t given = std::max(r.pixel_values.size(), r.pixel_bytes.size());
    const int64_t C = I.config.vision.num_channels;
    const int64_t tile = C * r.tile_height * r.tile_width;
    if (r.tile_height <= 0 || r.tile_width <= 0 || given % size_t(tile) != 0 || r.pixel_mask.size() != given / size_t(C))
      throw std::invalid_argument("pixel values / mask sizes do not match tiles of " + std::to_string(C) + "×" +
                                  std::to_string(r.tile_height) + "×" + std::to_string(r.tile_width));
    if (!r.pixel_bytes.empty() && C != 3)
      throw std::invalid_argument("pixel bytes need a 3-channel vision encoder (num_channels is " + std::to_string(C) +
                                  "); give pixel values");
    p.tiles = int(given / size_t(tile));
    p.tile_height = r.tile_height;
    p.tile_width = r.tile_width;
    p.borrowed_pixels = r.pixel_values;
    p.borrowed_bytes = r.pixel_bytes;
    p.pixel_mask = r.pixel_mask;
  }
  if (!r.input_embeds.empty()) {
    if (!r.images.empty()) throw std::invalid_argument("input embeddings already contain any image features");
    return p;
  }
  if (!r.prompt_ids.empty()) {
    p.input_ids = r.prompt_ids;
    ops::check_token_ids(p.input_ids, I.config.text.vocab_size);
    return p;
  }
  std::string text = r.prompt_text;
  if (!r.messages.empty()) text = I.chat_template.apply(r.messages, add_generation_prompt);
  const size_t placeholders = count_occurrences(text, I.image_tokens.image);
  if (placeholders != r.images.size())
    throw std::invalid_argument("the prompt has " + std::to_string(placeholders) + " " + I.image_tokens.image +
                                " placeholder(s) but " + std::to_string(r.images.size()) + " image(s) were given");
  p.prompt_text = expand_image_tokens(text, p.grids, I.processor.image_seq_len, I.image_tokens);
  auto bos = I.tokenizer.bos_prefix();
  p.input_ids.assign(bos.begin(), bos.end());
  auto ids = I.tokenizer.encode(p.prompt_text);
  p.input_ids.insert(p.input_ids.end(), ids.begin(), ids.end());
  return p;
}

PreparedRequest Model::prepare_videos(const Request& r, bool add_generation_prompt) const {
  const Impl& I = *impl_;
  if (!r.images.empty() || !r.pixel_values.empty() || !r.pixel_bytes.empty())
    throw std::invalid_argument(
        "a request has images or videos, not both (transformers 5.17's SmolVLMProcessor would keep only the "
        "videos' pixel_values)");
  if (r.messages.empty() && r.prompt_text.empty())
    throw std::invalid_argument("videos need messages or prompt text, where their frames are expanded");
  const VideoProcessorConfig& vc = video_processor();
  PreparedRequest p;
  std::vector<VideoMetadata> metadata;
  for (const Video& v : r.videos) {
    if (v.frames.size() != v.metadata.frame_indices.size())
      throw std::invalid_argument("video " + v.source + " has " + std::to_string(v.frames.size()) +
                                  " frames but its metadata lists " + std::to_string(v.metadata.frame_indices.size()));
    ProcessedVideo pv = preprocess_video(v, vc);
    if (pv.height != I.config.vision.image_size || pv.width != I.config.vision.image_size)
      throw LoadError("video " + v.source + ": its frames are " + std::to_string(pv.width) + "x" +
                      std::to_string(pv.height) + " after the processor, but the vision encoder takes " +
                      std::to_string(I.config.vision.image_size) + "x" + std::to_string(I.config.vision.image_size));
    p.tile_height = pv.height;
    p.tile_width = pv.width;
    p.tiles += pv.frames;
    p.pixel_values.insert(p.pixel_values.end(), pv.pixel_values.begin(), pv.pixel_values.end());
    p.pixel_mask.insert(p.pixel_mask.end(), pv.pixel_mask.begin(), pv.pixel_mask.end());
    p.grids.insert(p.grids.end(), size_t(pv.frames), ImageGrid{});  // each frame one unsplit image
    metadata.push_back(v.metadata);
  }
  // DEFAULT_CHAT_TEMPLATE of processing_smolvlm.py (the <|im_start|> layout with a video branch).
  const std::string text = !r.messages.empty() ? ChatTemplate().apply(r.messages, add_generation_prompt) : r.prompt_text;
  if (const size_t n = count_occurrences(text, I.image_tokens.image); n != 0)
    throw std::invalid_argument("the prompt has " + std::to_string(n) + " " + I.image_tokens.image +
                                " placeholder(s) but no images were given (a request has images or videos)");
  p.prompt_text = expand_video_tokens(text, metadata, I.processor.image_seq_len, I.image_tokens);
  auto bos = I.tokenizer.bos_prefix();
  p.input_ids.assign(bos.begin(), bos.end());
  auto ids = I.tokenizer.encode(p.prompt_text);
  p.input_ids.insert(p.input_ids.end(), ids.begin(), ids.end());
  return p;
}

const std::vector<float>& Model::Impl::pixel_lut_host() {
  if (pixel_lut_.empty()) pixel_lut_ = pixel_lut(processor);
  return pixel_lut_;
}

std::vector<Model::Impl::ImageUnit> Model::Impl::image_units(const std::vector<const PreparedRequest*>& reqs,
                                                             bool caching) {
  std::vector<ImageUnit> units;
  for (const auto* r : reqs) {
    if (!r->tiles) continue;
    std::vector<int64_t> counts;
    int64_t sum = 0;
    for (const ImageGrid& grid : r->grids)
      sum += counts.emplace_back(grid.rows ? int64_t(grid.rows) * grid.cols + 1 : 1);
    if (sum != r->tiles) counts = {r->tiles};
    int64_t first = 0;
    for (int64_t n : counts) {
      units.push_back({r, first, n});
      first += n;
    }
  }
  if (!caching) return units;
  const int64_t C = config.vision.num_channels;
  for (ImageUnit& u : units) {
    const int64_t plane = int64_t(u.r->tile_height) * u.r->tile_width;
    const auto mask = std::span(u.r->pixel_mask).subspan(size_t(u.first * plane), size_t(u.count * plane));
    const size_t at = size_t(u.first * C * plane), len = size_t(u.count * C * plane);
    u.key = u.r->bytes().empty()
                ? ImageCache::key(u.r->pixels().subspan(at, len), mask, u.count, u.r->tile_height, u.r->tile_width)
                : ImageCache::key(u.r->bytes().subspan(at, len), pixel_lut_host(), mask, u.count, u.r->tile_height,
                                  u.r->tile_width);
    u.hit = image_cache.find(u.key);
  }
  return units;
}

Buffer Model::Impl::run_encoder(const std::vector<const ImageUnit*>& units, int64_t& rows_per_tile, HostSplit& host,
                                std::vector<float>* vision_out, std::vector<DispatchTiming>* timings,
                                std::shared_ptr<RunningPass>* running_out) {
  auto t_upload = Clock::now();
  const int64_t C = config.vision.num_channels;
  int64_t H = 0, W = 0, N = 0;
  for (const ImageUnit* u : units) {
    H = std::max<int64_t>(H, u->r->tile_height);
    W = std::max<int64_t>(W, u->r->tile_width);
    N += u->count;
  }
  const int64_t TH = config.text.hidden_size, VH = config.vision.hidden_size;
  // Tiles of different sizes are zero-padded to the largest, with the mask marking real
  // pixels; tiles of the largest size are uploaded straight from the request.
  // Byte tiles (what images give) are uploaded as bytes and normalized by the encoder's
  // im2col through the processor's table. When any tile is given as floats or must be padded
  // (byte 0 is not the float 0 of padding), every tile goes up as floats instead, the bytes
  // normalized on the host with the same table (the same values).
  bool as_bytes = (N * C * H * W) % 4 == 0;
  for (const ImageUnit* u : units) {
    if (!u->r->bytes().empty() && C != 3)
      throw std::invalid_argument("pixel bytes need a 3-channel vision encoder (num_channels is " + std::to_string(C) +
                                  ")");
    if (u->r->bytes().empty() || u->r->tile_height != H || u->r->tile_width != W) as_bytes = false;
  }
  const uint64_t tile_bytes = uint64_t(C * H * W) * (as_bytes ? 1 : 4);
  Buffer pix_b = ctx.create_buffer(uint64_t(N) * tile_bytes);
  std::vector<uint8_t> mask(size_t(N * H * W), 0);
  std::vector<Context::UploadPiece> pieces;  // all tiles in one pipelined upload
  std::deque<std::vector<float>> owned;      // tiles normalized or padded here, alive until it
  int64_t n = 0;
  for (const ImageUnit* u : units) {
    const PreparedRequest* r = u->r;
    const int64_t th = r->tile_height, tw = r->tile_width, len = u->count * C * th * tw;
    const auto keep_mask = [&] {
      std::copy_n(r->pixel_mask.begin() + u->first * H * W, size_t(u->count * H * W), &mask[size_t(n * H * W)]);
    };
    if (as_bytes) {
      pieces.push_back({r->bytes().data() + u->first * C * H * W, uint64_t(u->count) * tile_bytes, uint64_t(n) * tile_bytes});
      keep_mask();
      n += u->count;
      continue;
    }
    std::span<const float> px = r->pixels().subspan(size_t(u->first * C * th * tw), size_t(len));
    if (!r->bytes().empty())
      px = owned.emplace_back(normalize_pixels(r->bytes().subspan(size_t(u->first * C * th * tw), size_t(len)),
                                               pixel_lut_host(), th * tw));
    if (th == H && tw == W) {
      pieces.push_back({px.data(), uint64_t(u->count) * tile_bytes, uint64_t(n) * tile_bytes});
      keep_mask();
      n += u->count;
      continue;
    }
    std::vector<float>& padded = owned.emplace_back(size_t(u->count * C * H * W), 0.0f);
    for (int64_t i = 0; i < u->count; ++i)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < th; ++y) {
          std::copy_n(&px[size_t(((i * C + c) * th + y) * tw)], tw, &padded[size_t(((i * C + c) * H + y) * W)]);
          if (c == 0)
            std::copy_n(&r->pixel_mask[size_t(((u->first + i) * th + y) * tw)], tw, &mask[size_t(((n + i) * H + y) * W)]);
        }
    pieces.push_back({padded.data(), uint64_t(u->count) * tile_bytes, uint64_t(n) * tile_bytes});
    n += u->count;
  }
  // Per call, like the other inputs (a call's buffers all go when it ends); uploaded with the
  // first pass's tiles.
  Buffer lut_b;
  if (as_bytes) lut_b = ctx.create_buffer(pixel_lut_host().size() * 4);
  const int P = int(config.vision.patches_per_side());
  ops::PatchLayout layout = ops::patch_layout(mask, N, H, W, int(config.vision.patch_size), P);
  const int64_t S = layout.seq;
  const int64_t rows = N * S / (config.scale_factor * config.scale_factor);
  rows_per_tile = rows / N;
  Buffer encoded = ctx.create_buffer(uint64_t(rows * TH) * 4);
  Buffer vis_b;
  if (vision_out) vis_b = ctx.create_buffer(uint64_t(N * S * VH) * 4);
  // The encoder runs over at most `chunk` tiles at a time: its activations (~30 MB a tile at
  // 512 px) then stay bounded however many tiles a request has, at a few more dispatches.
  const auto& vc = config.vision;
  const int64_t hd = weights.vision_head_dim;
  const uint64_t act = dtype_size(ops::tensor_core_activation_dtype(ctx.caps(), N * S, vc.hidden_size, hd));
  int64_t chunk = vision_pass_tiles(vc, S, act, kVisionPassBytes, ops::kernel_policy(ctx.caps()).vision_chunk_tiles,
                                    ctx.caps().max_storage_buffer_range, hd);
  const uint64_t align = std::max<uint64_t>(1, ctx.caps().min_storage_buffer_offset_alignment);
  // Each pass binds its tiles at offsets that must be aligned: the most tiles up to `chunk`
  // that keep them so, else one pass of all.
  const auto aligned = [&](int64_t c) {
    for (uint64_t per : {tile_bytes, uint64_t(rows_per_tile * TH) * 4, uint64_t(S * VH) * 4, uint64_t(S) * 4})
      if ((per * uint64_t(c)) % align != 0) return false;
    return true;
  };
  while (chunk < N && !aligned(chunk)) --chunk;
  if (chunk < 1) chunk = N;
  Buffer ids_b = ctx.create_buffer(std::max<uint64_t>(4, layout.position_ids.size() * 4));
  Buffer valid_b = ctx.create_buffer(std::max<uint64_t>(4, layout.valid.size() * 4));
  // The tiles' pixels go up a pass at a time, each while the pass before it runs; the first
  // pass's with the table, position ids and valid flags, as one queued copy.
  const auto upload_tiles = [&](int64_t t0, int64_t n, std::vector<Context::BufferUpload> ups) {
    const uint64_t lo = uint64_t(t0) * tile_bytes, hi = uint64_t(t0 + n) * tile_bytes;
    for (const Context::UploadPiece& p : pieces) {
      const uint64_t a = std::max(lo, p.dst_offset), b = std::min(hi, p.dst_offset + p.bytes);
      if (a < b) ups.push_back({pix_b, static_cast<const uint8_t*>(p.src) + (a - p.dst_offset), b - a, a});
    }
    ctx.upload_async(ups);  // the pass that reads them is submitted after
  };
  std::vector<Context::BufferUpload> first{{ids_b, layout.position_ids.data(), layout.position_ids.size() * 4, 0},
                                           {valid_b, layout.valid.data(), layout.valid.size() * 4, 0}};
  if (as_bytes) first.push_back({lut_b, pixel_lut_host().data(), pixel_lut_host().size() * 4, 0});
  upload_tiles(0, std::min(chunk, N), std::move(first));
  host.upload_ms = ms_since(t_upload);
  const auto record = [&](int64_t t0) {
    const auto t_record = Clock::now();
    const int64_t n = std::min(chunk, N - t0);
    Graph g(ctx);
    const ops::Tensor lut_t = as_bytes ? ops::external(g, lut_b, DType::F32, {C, 256}) : ops::Tensor{};
    VisionIO io{ops::external(g, pix_b, as_bytes ? DType::U8 : DType::F32, {n, C, H, W}, uint64_t(t0) * tile_bytes),
                ops::external(g, ids_b, DType::I32, {n, S}, uint64_t(t0 * S) * 4),
                ops::external(g, valid_b, DType::I32, {n, S}, uint64_t(t0 * S) * 4),
                ops::external(g, encoded, DType::F32, {n * rows_per_tile, TH}, uint64_t(t0 * rows_per_tile * TH) * 4)};
    ops::Tensor vis_t;
    if (vision_out) {
      vis_t = ops::external(g, vis_b, DType::F32, {n, S, VH}, uint64_t(t0 * S * VH) * 4);
      io.vision_out = &vis_t;
    }
    if (as_bytes) io.pixel_lut = &lut_t;
    build_vision(g, config, weights, io);
    g.enable_timestamps(timings != nullptr);
    Program prog = g.compile();
    host.record_ms += ms_since(t_record);
    return prog;
  };
  const auto finish = [&](Program& prog) {
    const auto t_wait = Clock::now();
    prog.wait();
    host.run_ms += ms_since(t_wait);
    if (timings) {
      const auto t = prog.timings();
      timings->insert(timings->end(), t.begin(), t.end());
    }
  };
  // Pass k runs while the host records pass k+1, copies its pixels to the staging buffer and
  // submits both behind it (one queue): the GPU runs the passes back to back. Two passes'
  // activations are allocated at once where there are several.
  Program running = record(0);
  running.submit();
  for (int64_t t0 = chunk; t0 < N; t0 += chunk) {
    Program next = record(t0);
    const auto t_pixels = Clock::now();
    upload_tiles(t0, std::min(chunk, N - t0), {});
    host.upload_ms += ms_since(t_pixels);
    next.submit();
    finish(running);
    running = std::move(next);
  }
  if (running_out && !vision_out && !timings) {
    *running_out = std::make_shared<RunningPass>(
        RunningPass{{pix_b, lut_b, ids_b, valid_b, encoded}, std::move(running)});
    return encoded;
  }
  finish(running);
  if (vision_out) {
    vision_out->resize(size_t(N * S * config.vision.hidden_size));
    ctx.download(vis_b, vision_out->data(), vision_out->size() * 4);
  }
  return encoded;
}

void Model::Impl::keep_in_cache(const std::vector<const ImageUnit*>& misses, const Buffer& encoded,
                                uint64_t tile_row_bytes) {
  uint64_t at = 0;
  for (const ImageUnit* u : misses) {
    const uint64_t bytes = uint64_t(u->count) * tile_row_bytes;
    try {
      auto entry = std::make_shared<ImageCache::Entry>();
      entry->rows = ctx.create_buffer(bytes);
      entry->tiles = u->count;
      const Context::CopyRange r{at, 0, bytes};
      ctx.copy(encoded, entry->rows, std::span(&r, 1));
      image_cache.insert(u->key, std::move(entry));
    } catch (const GpuError& err) {
      if (!err.out_of_memory()) throw;  // no room under the memory budget: not cached
    }
    at += bytes;
  }
}

Model::Impl::Encoded Model::Impl::encode(const std::vector<const PreparedRequest*>& reqs,
                                         std::vector<float>* vision_out, std::vector<DispatchTiming>* timings,
                                         bool leave_running) {
  Encoded e;
  const bool caching = image_cache.budget() > 0 && !vision_out;
  std::vector<ImageUnit> units = image_units(reqs, caching);
  std::vector<const ImageUnit*> misses;
  for (const ImageUnit& u : units) {
    e.tiles += u.count;
    if (u.hit)
      e.cached_tiles += u.count;
    else
      misses.push_back(&u);
  }
  if (timings) timings->clear();
  if (e.tiles == 0) return e;
  int64_t rows_per_tile = config.image_seq_len();
  const Buffer encoded = misses.empty() ? Buffer{}
                                        : run_encoder(misses, rows_per_tile, e.host, vision_out, timings,
                                                      leave_running && !caching ? &e.running : nullptr);
  if (!caching || e.cached_tiles == 0) {
    e.rows = encoded;
  } else {
    // Every image's rows in prompt order: cached ones from the cache, the rest from the encoder.
    const uint64_t tile_row_bytes = uint64_t(rows_per_tile * config.text.hidden_size) * 4;
    e.rows = ctx.create_buffer(uint64_t(e.tiles) * tile_row_bytes);
    std::vector<Context::CopyRange> from_encoder;
    uint64_t at = 0, enc_at = 0;
    for (const ImageUnit& u : units) {
      const uint64_t bytes = uint64_t(u.count) * tile_row_bytes;
      if (u.hit) {
        const Context::CopyRange r{0, at, bytes};
        ctx.copy(u.hit->rows, e.rows, std::span(&r, 1));
      } else {
        from_encoder.push_back({enc_at, at, bytes});
        enc_at += bytes;
      }
      at += bytes;
    }
    if (!from_encoder.empty()) ctx.copy(encoded, e.rows, from_encoder);
  }
  if (caching) keep_in_cache(misses, encoded, uint64_t(rows_per_tile * config.text.hidden_size) * 4);
  return e;
}

std::vector<float> Model::encode_images(const PreparedRequest& r, std::vector<float>* vision_out) {
  auto e = impl_->encode({&r}, vision_out);
  std::vector<float> out;
  if (!e.tiles) return out;
  out.resize(e.rows.size() / 4);
  impl_->ctx.download(e.rows, out.data(), e.rows.size());
  return out;
}

Result Model::generate(const Request& r, const GenerateOptions& options, const TokenCallback& on_token) {
  return std::move(generate(std::span<const Request>(&r, 1), options, on_token).front());
}

std::vector<Result> Model::generate(std::span<const Request> batch, const GenerateOptions& o,
                                    const TokenCallback& on_token) {
  if (batch.empty()) return {};
  std::vector<PreparedRequest> prepared;
  for (const auto& r : batch) prepared.push_back(prepare_borrowing(r, o.add_generation_prompt));
  return impl_->run(batch, prepared, nullptr, 0, o, on_token);
}

Model::Impl::Layout Model::Impl::layout(std::span<const Request> batch, const std::vector<PreparedRequest>& prepared,
                                        const KvCache* cache, int64_t pos0, const GenerateOptions& o) const {
  const auto& tc = config.text;
  Layout L;
  L.B = int64_t(batch.size());
  if (o.max_new_tokens < 1) throw std::invalid_argument("max_new_tokens must be at least 1");
  if (L.B > int64_t(Graph::kParamWords - param::kPositions))
    throw std::invalid_argument("batch size " + std::to_string(L.B) + " is over the maximum of " +
                                std::to_string(Graph::kParamWords - param::kPositions));
  L.embeds = !batch[0].input_embeds.empty();
  if (L.embeds && L.B != 1) throw std::invalid_argument("generation from embeddings takes one request");
  for (size_t b = 0; b < prepared.size(); ++b) {
    int64_t len =
        L.embeds ? int64_t(batch[b].input_embeds.size()) / tc.hidden_size : int64_t(prepared[b].input_ids.size());
    if (L.embeds && len * tc.hidden_size != int64_t(batch[b].input_embeds.size()))
      throw std::invalid_argument("input embeddings: " + std::to_string(batch[b].input_embeds.size()) +
                                  " values is not a multiple of the hidden size " + std::to_string(tc.hidden_size));
    if (len == 0) throw std::invalid_argument("request " + std::to_string(b) + " has an empty prompt");
    L.lengths.push_back(len);
    L.T = std::max(L.T, len);
  }
  const int64_t need = pos0 + L.T + o.max_new_tokens;
  const int64_t limit = cache ? cache->capacity : tc.max_position_embeddings;
  if (need > limit)
    throw std::invalid_argument("context overflow: " + std::to_string(pos0) + " tokens in context + " +
                                std::to_string(L.T) + " prompt tokens + " + std::to_string(o.max_new_tokens) +
                                " new tokens exceed the " + std::to_string(limit) + " positions available");
  L.capacity = std::min<int64_t>((need + 15) / 16 * 16, tc.max_position_embeddings);

  // Left padding: row b's tokens occupy slots pad_b .. T−1; its keys before pad_b are masked.
  const int64_t B = L.B, T = L.T;
  L.ids.assign(size_t(B * T), 0);
  L.positions.assign(size_t(B * T), 0);
  L.kv_start.assign(size_t(B), 0);
  L.last_rows.assign(size_t(B), 0);
  const int32_t pad_id = int32_t(generation.pad_token_id.value_or(0));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t pad = T - L.lengths[size_t(b)];
    L.kv_start[size_t(b)] = int32_t(pos0 == 0 ? pad : 0);  // a continued context has no padding
    L.last_rows[size_t(b)] = int32_t(b * T + T - 1);
    for (int64_t t = 0; t < T; ++t) {
      L.positions[size_t(b * T + t)] = int32_t(pos0 + t);
      if (!L.embeds) L.ids[size_t(b * T + t)] = t < pad ? pad_id : prepared[size_t(b)].input_ids[size_t(t - pad)];
    }
  }
  return L;
}

Program Model::Impl::record_prefill(const Layout& L, const RunBuffers& rb, const Encoded& enc, int64_t image_rows,
                                    const KvCache& kv, const DeviceTensor& rope, int64_t pos0,
                                    const ops::SamplingParams& sp, bool timestamps,
                                    const std::vector<ops::SamplingParams>* row_sampling) {
  const auto& tc = config.text;
  const int64_t B = L.B, T = L.T;
  Graph g(ctx);
  TextIO io;
  io.batch = B;
  io.tokens = T;
  io.ids = ops::external(g, rb.ids, DType::I32, {B * T});
  ops::Tensor emb_t;
  if (L.embeds) {
    emb_t = ops::external(g, rb.embeds, DType::F32, {T, tc.hidden_size});
    io.embeds = &emb_t;
  }
  io.positions = ops::external(g, rb.positions, DType::I32, {B * T});
  io.kv_start = ops::external(g, rb.kv_start, DType::I32, {B});
  io.pos0 = uint32_t(pos0);
  ops::Tensor rows_t, targets_t;
  if (enc.tiles) {
    rows_t = ops::external(g, enc.rows, DType::F32, {image_rows, tc.hidden_size});
    targets_t = ops::external(g, rb.targets, DType::I32, {image_rows});
    io.image_rows = &rows_t;
    io.image_targets = &targets_t;
  }
  io.last_rows = ops::external(g, rb.last_rows, DType::I32, {B});
  io.logits = ops::external(g, rb.logits, DType::F32, {B, tc.vocab_size});
  io.next_ids = ops::external(g, rb.next_ids, DType::I32, {B});
  g.read_back(io.next_ids.ref);  // the sampled ids come back with the run, no download
  io.sampling = sp;
  io.step = uint32_t{0};
  if (row_sampling) {
    io.row_sampling = *row_sampling;
    io.row_steps = {g.params(), param::kRowSteps};
  }
  build_text(g, config, weights, kv, rope, io);
  g.enable_timestamps(timestamps);
  return g.compile();
}

Program Model::Impl::record_decode_step(int64_t B, const RunBuffers& rb, const KvCache& kv, const DeviceTensor& rope,
                                        const ops::SamplingParams& sp, bool timestamps,
                                        const std::vector<ops::SamplingParams>* row_sampling, uint32_t key_bound) {
  Graph g(ctx);
  TextIO io;
  io.batch = B;
  io.tokens = 1;
  TensorRef params = g.params();
  io.ids = ops::external(g, rb.next_ids, DType::I32, {B});
  io.positions = {params.slice(param::kPositions * 4, uint64_t(B) * 4), DType::I32, {B}};
  io.kv_start = ops::external(g, rb.kv_start, DType::I32, {B});
  io.pos0 = ops::ParamWord{params, param::kPositions, /*per_row=*/true, key_bound};
  io.last_rows = io.kv_start;  // unused for T = 1
  io.logits = ops::external(g, rb.logits, DType::F32, {B, config.text.vocab_size});
  io.next_ids = ops::external(g, rb.next_ids, DType::I32, {B});
  g.read_back(io.next_ids.ref);  // the sampled ids come back with the run, no download
  io.sampling = sp;
  io.step = ops::ParamWord{params, param::kStep};
  if (row_sampling) {
    io.row_sampling = *row_sampling;
    io.row_steps = {params, param::kRowSteps};
  }
  build_text(g, config, weights, kv, rope, io);
  g.enable_timestamps(timestamps);
  return g.compile();
}

std::vector<Result> Model::Impl::run(std::span<const Request> batch, const std::vector<PreparedRequest>& prepared,
                                     KvCache* cache, int64_t pos0, const GenerateOptions& o,
                                     const TokenCallback& on_token) {
  cancel = false;
  const auto& tc = config.text;
  const Layout L = layout(batch, prepared, cache, pos0, o);
  const int64_t B = L.B, T = L.T;
  std::vector<Result> results(batch.size());
  for (int64_t b = 0; b < B; ++b) results[size_t(b)].input_ids = prepared[size_t(b)].input_ids;
  auto t_start = Clock::now();

  // 1. all tiles of all requests in one vision batch
  // Its last pass is left running (unless profiling): the prefill's inputs go up and its
  // program is recorded meanwhile, and it is submitted behind the encoder.
  auto t0 = Clock::now();
  std::vector<const PreparedRequest*> with_images;
  for (const auto& p : prepared) with_images.push_back(&p);
  std::vector<PhaseProfile> profile;
  std::vector<DispatchTiming> encode_timings;
  Encoded enc = encode(with_images, nullptr, o.profile ? &encode_timings : nullptr, !o.profile);
  if (o.profile && enc.tiles) profile.push_back({"encode", std::move(encode_timings)});
  std::vector<int32_t> targets;
  if (enc.tiles)
    targets = ops::image_token_targets(L.ids, int32_t(config.image_token_id), enc.tiles * config.image_seq_len());
  else if (!L.embeds)
    ops::image_token_targets(L.ids, int32_t(config.image_token_id), 0);  // placeholders need images
  const auto t_encode = t0;
  const bool overlapped = enc.running != nullptr;  // the encoder's last pass is still running
  double encode_ms = ms_since(t_encode);

  // 2. prefill
  t0 = Clock::now();
  HostSplit prefill_host;
  KvCache fresh;
  if (!cache) fresh = make_kv_cache(ctx, config, B, L.capacity);
  const KvCache& kv = cache ? *cache : fresh;
  const DeviceTensor& rope = rope_for(kv.capacity);
  const std::vector<Buffer> in = upload_vectors(
      ctx, {bytes_of(L.ids), bytes_of(L.positions), bytes_of(L.kv_start), bytes_of(L.last_rows), bytes_of(targets)});
  RunBuffers rb{in[0], in[1], in[2], in[3], in[4], ctx.create_buffer(uint64_t(B * tc.vocab_size) * 4),
                ctx.create_buffer(uint64_t(B) * 4), {}};
  if (L.embeds) rb.embeds = upload_vector(ctx, batch[0].input_embeds);
  prefill_host.upload_ms = ms_since(t0);
  const ops::SamplingParams sp{o.sampling.temperature, o.sampling.top_k, o.sampling.top_p, o.sampling.seed};
  auto t_phase = Clock::now();
  Program prefill = record_prefill(L, rb, enc, int64_t(targets.size()), kv, rope, pos0, sp, o.profile);
  prefill_host.record_ms = ms_since(t_phase);
  t_phase = Clock::now();
  prefill.submit();
  if (overlapped) {
    // The encoder's end as the host sees it (after the prefill's recording when that took
    // longer): image encode ms ends here and prefill ms starts.
    enc.wait();
    enc.host.run_ms += ms_since(t_phase);
    encode_ms = ms_since(t_encode);
    t0 = t_phase = Clock::now();
  }
  prefill.wait();
  prefill_host.run_ms = ms_since(t_phase);
  if (o.profile) profile.push_back({"prefill", prefill.timings()});
  const double prefill_ms = ms_since(t0);
  if (o.want_last_logits) {
    std::vector<float> all(size_t(B * tc.vocab_size));
    ctx.download(rb.logits, all.data(), all.size() * 4);
    for (int64_t b = 0; b < B; ++b)
      results[size_t(b)].last_logits.assign(all.begin() + b * tc.vocab_size, all.begin() + (b + 1) * tc.vocab_size);
  }

  // 3. decode: one recorded step, replayed with the position in the params buffer
  t0 = Clock::now();
  std::vector<StreamDecoder> decoders;
  for (int64_t b = 0; b < B; ++b) decoders.emplace_back(tokenizer, true);
  std::vector<bool> done(size_t(B), false);
  std::vector<int32_t> next(batch.size(), 0);
  auto take_tokens = [&](const Program& p) {
    std::memcpy(next.data(), p.read_back().data(), uint64_t(B) * 4);
    for (int64_t b = 0; b < B; ++b) {
      if (done[size_t(b)]) continue;
      Result& r = results[size_t(b)];
      r.output_ids.push_back(next[size_t(b)]);
      std::string piece = decoders[size_t(b)].feed(next[size_t(b)]);
      r.text += piece;
      if (on_token) on_token(int(b), next[size_t(b)], piece);
      if (!o.ignore_eos && std::find(stop_ids.begin(), stop_ids.end(), next[size_t(b)]) != stop_ids.end()) {
        done[size_t(b)] = true;
        r.stop_reason = "eos";
      }
    }
  };
  take_tokens(prefill);
  const double first_token_ms = ms_since(t_start);
  Program decode;
  for (int step = 1; step < o.max_new_tokens; ++step) {
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    if (cancel) break;
    if (step == 1) decode = record_decode_step(B, rb, kv, rope, sp, o.profile);
    const uint32_t pos = uint32_t(pos0 + T + step - 1);
    decode.set_param(param::kStep, uint32_t(step));
    for (int64_t b = 0; b < B; ++b) decode.set_param(param::kPositions + uint32_t(b), pos);
    decode.run();
    take_tokens(decode);
  }
  const double decode_ms = ms_since(t0);
  if (o.profile && decode.dispatch_count()) profile.push_back({"decode", decode.timings()});
  for (int64_t b = 0; b < B; ++b) {
    Result& r = results[size_t(b)];
    r.text += decoders[size_t(b)].flush();
    if (r.stop_reason.empty()) r.stop_reason = cancel ? "cancelled" : "length";
    r.timings = {encode_ms,
                 prefill_ms,
                 decode_ms,
                 first_token_ms,
                 int(enc.tiles),
                 int(L.lengths[size_t(b)]),
                 int(r.output_ids.size()),
                 enc.host,
                 prefill_host,
                 int(enc.cached_tiles)};
    r.profile = profile;
  }
  return results;
}

}  // namespace smolvk
