#include "model/image_cache.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace smolvk {

namespace {
// Tag, sizes, the pixels as given, the table (empty for floats), the mask.
ImageCache::Key hash(uint8_t form, std::span<const uint8_t> data, std::span<const float> lut,
                     std::span<const uint8_t> mask, int64_t tiles, int64_t h, int64_t w) {
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  const int64_t head[4] = {form, tiles, h, w};
  XXH3_128bits_update(&state, head, sizeof head);
  XXH3_128bits_update(&state, data.data(), data.size_bytes());
  XXH3_128bits_update(&state, lut.data(), lut.size_bytes());
  XXH3_128bits_update(&state, mask.data(), mask.size_bytes());
  const XXH128_hash_t d = XXH3_128bits_digest(&state);
  return {d.low64, d.high64};
}
}  // namespace

ImageCache::Key ImageCache::key(std::span<const float> pixels, std::span<const uint8_t> mask, int64_t tiles, int64_t h,
                                int64_t w) {
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(pixels.data()), pixels.size_bytes());
  return hash(0, data, {}, mask, tiles, h, w);
}

ImageCache::Key ImageCache::key(std::span<const uint8_t> pixel_bytes, std::span<const float> lut,
                                std::span<const uint8_t> mask, int64_t tiles, int64_t h, int64_t w) {
  return hash(1, pixel_bytes, lut, mask, tiles, h, w);
}

uint64_t ImageCache::budget() const {
  std::lock_guard lock(mutex_);
  return stats_.budget_bytes;
}

void ImageCache::set_budget(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  stats_.budget_bytes = bytes;
  evict_to(bytes);
}

std::shared_ptr<const ImageCache::Entry> ImageCache::find(const Key& key) {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void ImageCache::insert(const Key& key, std::shared_ptr<const Entry> entry) {
  std::lock_guard lock(mutex_);
  const uint64_t size = entry->rows.size();
  if (size > stats_.budget_bytes || index_.count(key)) return;
  evict_to(stats_.budget_bytes - size);
  lru_.emplace_front(key, std::move(entry));
  index_[key] = lru_.begin();
  stats_.bytes += size;
  ++stats_.entries;
}

void ImageCache::evict_to(uint64_t bytes) {
  while (stats_.bytes > bytes && !lru_.empty()) {
    stats_.bytes -= lru_.back().second->rows.size();
    --stats_.entries;
    ++stats_.evictions;
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

ImageCacheStats ImageCache::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace smolvk
