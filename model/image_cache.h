#pragma once
// The image cache: the encoder + connector output rows of recently seen images, kept on the
// device under an LRU byte budget, so that a request about an image seen before skips the
// vision encoder (Model::set_image_cache_budget). Keyed by a 128-bit hash (XXH3, Debian's
// libxxhash) of the image's preprocessed tiles — pixel values (or bytes and their
// normalization table), pixel mask, tile count and size — which is what the encoder sees: the same decoded image under the same processor
// settings hashes the same, a different image or setting does not.
#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>

#include "runtime/context.h"

namespace smolvk {

struct ImageCacheStats {
  uint64_t budget_bytes = 0;  // 0: off
  uint64_t bytes = 0, entries = 0;
  uint64_t hits = 0, misses = 0, evictions = 0;  // images (units of tiles), since the model was loaded
};

class ImageCache {
 public:
  using Key = std::array<uint64_t, 2>;
  struct Entry {
    Buffer rows;  // [tiles · image_seq_len, text hidden] f32
    int64_t tiles = 0;
  };

  // `pixels` [tiles, C, h, w] and `mask` [tiles, h, w] of one image, the pixels as floats
  // or as bytes with the table that normalizes them (ops::im2col).
  static Key key(std::span<const float> pixels, std::span<const uint8_t> mask, int64_t tiles, int64_t h, int64_t w);
  static Key key(std::span<const uint8_t> pixel_bytes, std::span<const float> lut, std::span<const uint8_t> mask,
                 int64_t tiles, int64_t h, int64_t w);

  uint64_t budget() const;
  void set_budget(uint64_t bytes);  // evicts least recently used entries down to it
  // The entry for `key` (now the most recently used), or null; counts a hit or a miss.
  std::shared_ptr<const Entry> find(const Key& key);
  // Adds `entry` unless its rows alone exceed the budget, evicting the least recently used
  // entries until it fits. An entry in use by a running request stays alive after eviction.
  void insert(const Key& key, std::shared_ptr<const Entry> entry);
  ImageCacheStats stats() const;

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const { return size_t(k[0] ^ (k[1] * 0x9e3779b97f4a7c15ull)); }
  };
  using Lru = std::list<std::pair<Key, std::shared_ptr<const Entry>>>;
  void evict_to(uint64_t bytes);  // mutex held

  mutable std::mutex mutex_;
  Lru lru_;  // most recently used first
  std::unordered_map<Key, Lru::iterator, KeyHash> index_;
  ImageCacheStats stats_;
};

}  // namespace smolvk
