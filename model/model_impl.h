#pragma once
// Model internals shared by smolvlm.cpp (loading, generation) and random_model.cpp.
#include <algorithm>
#include <atomic>

#include "loader/checkpoint.h"
#include "model/device_weights.h"
#include "model/graphs.h"
#include "model/smolvlm.h"

namespace smolvk {

// Device copies of host arrays for GPU work submitted after them, as one queued copy
// (Context::upload_async: the host does not wait for it, and one submission keeps a later
// upload from waiting behind GPU work queued after these).
struct HostBytes {
  const void* data = nullptr;
  uint64_t bytes = 0;
};
template <class T>
HostBytes bytes_of(const std::vector<T>& v) {
  return {v.data(), v.size() * sizeof(T)};
}
inline std::vector<Buffer> upload_vectors(Context& ctx, std::initializer_list<HostBytes> arrays) {
  std::vector<Buffer> out;
  std::vector<Context::BufferUpload> ups;
  for (const HostBytes& a : arrays) {
    out.push_back(ctx.create_buffer(std::max<uint64_t>(4, a.bytes)));
    if (a.bytes) ups.push_back({out.back(), a.data, a.bytes, 0});
  }
  if (!ups.empty()) ctx.upload_async(ups);
  return out;
}
template <class T>
Buffer upload_vector(Context& ctx, const std::vector<T>& v) {
  return upload_vectors(ctx, {bytes_of(v)}).front();
}

// What the checkpoint's files say (config, tokenizer, processor, generation config, chat
// template, image tokens, stop ids: loader/checkpoint.h), and the model's device state.
struct Model::Impl : Checkpoint {
  Context& ctx;
  DeviceWeights weights;
  DeviceTensor rope_table;
  std::atomic<bool> cancel{false};
  ImageCache image_cache;

  Impl(Context& c, Checkpoint ck) : Checkpoint(std::move(ck)), ctx(c) {}

  const DeviceTensor& rope_for(int64_t capacity);  // cos/sin table of at least `capacity` rows
  // The processor's normalization of byte pixels (pixel_lut), made on first use (the
  // processor does not change after loading).
  const std::vector<float>& pixel_lut_host();
  std::vector<float> pixel_lut_;

  // The encoder's last pass while it runs, with the buffers it reads (freed after it ends).
  struct RunningPass {
    std::vector<Buffer> inputs;
    Program program;  // destroyed first: it waits for the GPU
  };
  struct Encoded {
    Buffer rows;               // [tiles · image_seq_len, text hidden]
    int64_t tiles = 0;         // every image tile of the requests, in prompt order
    int64_t cached_tiles = 0;  // of them, those whose rows came from the image cache
    HostSplit host;
    // Set when encode() was asked to leave the last pass running: work submitted later sees
    // `rows` complete (one queue); wait() before the host reads them.
    std::shared_ptr<RunningPass> running;
    void wait() {
      if (running) running->program.wait();
      running.reset();
    }
  };
  // Prefill `prepared` (left-padded batch) at cache slot pos0 of `cache` (a fresh cache when
  // null), then decode. The core of Model::generate and ChatSession::send.
  std::vector<Result> run(std::span<const Request> batch, const std::vector<PreparedRequest>& prepared, KvCache* cache,
                          int64_t pos0, const GenerateOptions& o, const TokenCallback& cb);

  // The batch as run() lays it out: B rows of T slots, row b's prompt right-aligned (left
  // padding), checked against the limits (invalid_argument naming the value).
  struct Layout {
    int64_t B = 0, T = 0;
    std::vector<int64_t> lengths;              // prompt tokens per row
    bool embeds = false;                       // generation from input embeddings (one row)
    int64_t capacity = 0;                      // KV slots a fresh cache needs
    std::vector<int32_t> ids, positions;       // [B·T]
    std::vector<int32_t> kv_start, last_rows;  // [B]: first valid key slot, the row's last token row
  };
  Layout layout(std::span<const Request> batch, const std::vector<PreparedRequest>& prepared, const KvCache* cache,
                int64_t pos0, const GenerateOptions& o) const;
  // The device copies of a Layout, the image rows' targets and the outputs.
  struct RunBuffers {
    Buffer ids, positions, kv_start, last_rows, targets, logits, next_ids, embeds;
  };
  // The prefill of all T slots (image rows spliced in at `image_rows` targets), and the
  // one-token decode step replayed with the position in the params words.
  // `row_sampling` (optional): each row's own settings, its step in params word
  // param::kRowSteps + b, instead of `sp` for all. The decode step reads each row's position
  // from param::kPositions + b; `key_bound` (0: the capacity) bounds them over its replays.
  Program record_prefill(const Layout& L, const RunBuffers& rb, const Encoded& enc, int64_t image_rows,
                         const KvCache& kv, const DeviceTensor& rope, int64_t pos0, const ops::SamplingParams& sp,
                         bool timestamps, const std::vector<ops::SamplingParams>* row_sampling = nullptr);
  Program record_decode_step(int64_t B, const RunBuffers& rb, const KvCache& kv, const DeviceTensor& rope,
                             const ops::SamplingParams& sp, bool timestamps,
                             const std::vector<ops::SamplingParams>* row_sampling = nullptr, uint32_t key_bound = 0);

  // The image rows of `reqs` (every image in prompt order): from the image cache where it
  // holds them, else from the vision encoder (and then kept in the cache when it is on).
  // `leave_running`: return with the encoder's last pass still on the GPU (Encoded::running),
  // so the caller can record and submit the prefill behind it; not with vision_out, timings
  // or the image cache on (those wait for it anyway).
  Encoded encode(const std::vector<const PreparedRequest*>& reqs, std::vector<float>* vision_out,
                 std::vector<DispatchTiming>* timings = nullptr, bool leave_running = false);
  // What the image cache keys: each image's tiles where the request knows its images' grids,
  // else all of a request's tiles as one unit; with `caching`, each unit's key and cache entry.
  struct ImageUnit {
    const PreparedRequest* r = nullptr;
    int64_t first = 0, count = 0;  // tiles of r
    ImageCache::Key key{};
    std::shared_ptr<const ImageCache::Entry> hit;
  };
  std::vector<ImageUnit> image_units(const std::vector<const PreparedRequest*>& reqs, bool caching);
  // The vision encoder + connector over `units`' tiles (padded to the largest tile size), in
  // passes of bounded activation memory: [tiles · rows_per_tile, text hidden].
  // With `running`, the last pass is left on the GPU there instead of waited for.
  Buffer run_encoder(const std::vector<const ImageUnit*>& units, int64_t& rows_per_tile, HostSplit& host,
                     std::vector<float>* vision_out, std::vector<DispatchTiming>* timings,
                     std::shared_ptr<RunningPass>* running = nullptr);
  // Copies of `encoded`'s rows of each of `misses` (in order) into the image cache.
  void keep_in_cache(const std::vector<const ImageUnit*>& misses, const Buffer& encoded, uint64_t tile_row_bytes);
};

}  // namespace smolvk
