#include "loader/tokenizer_bpe.h"

#include <cstdio>
#include <queue>

#include <nlohmann/json.hpp>

#include "loader/error.h"
#include "loader/tokenizer.h"
#include "loader/unicode.h"

namespace smolvk {
namespace {

constexpr size_t kCacheCapacity = 10000;  // as HF tokenizers' BPE cache

struct Symbol {
  int32_t id;
  int32_t prev, next;  // -1: none
  uint32_t len;        // bytes; 0 once merged into its left neighbour
};

struct Merge {
  int32_t pos, rank, new_id;
  // priority_queue pops the largest: make that the lowest rank, then the leftmost.
  bool operator<(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

std::string optional_string(const nlohmann::json& model, const char* key, const std::string& where) {
  if (!model.contains(key) || model[key].is_null()) return {};
  if (!model[key].is_string())
    throw LoadError(where + ": \"" + key + "\" must be a string or null, got " + model[key].dump());
  return model[key].get<std::string>();
}

bool optional_bool(const nlohmann::json& model, const char* key, const std::string& where) {
  if (!model.contains(key) || model[key].is_null()) return false;
  if (!model[key].is_boolean())
    throw LoadError(where + ": \"" + key + "\" must be a boolean, got " + model[key].dump());
  return model[key].get<bool>();
}

}  // namespace

std::unique_ptr<BpeModel> BpeModel::from_json(const nlohmann::json& model, const std::string& origin) {
  const std::string where = origin + ": model";
  if (!model.is_object()) throw LoadError(where + ": expected an object");
  if (model.contains("type") && model["type"] != "BPE")
    throw LoadError(where + ": type " + model["type"].dump() + " is not supported (only byte-level \"BPE\")");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    throw LoadError(where + ": expected an object \"vocab\" (token -> id)");
  if (!model.contains("merges") || !model["merges"].is_array())
    throw LoadError(where + ": expected an array \"merges\"");
  if (!optional_string(model, "continuing_subword_prefix", where).empty() ||
      !optional_string(model, "end_of_word_suffix", where).empty())
    throw LoadError(where + ": continuing_subword_prefix / end_of_word_suffix are not supported");
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0))
    throw LoadError(where + ": dropout " + model["dropout"].dump() + " is not supported (expected null)");

  auto bpe = std::make_unique<BpeModel>();
  bpe->origin_ = origin;
  bpe->fuse_unk_ = optional_bool(model, "fuse_unk", where);
  bpe->byte_fallback_ = optional_bool(model, "byte_fallback", where);
  bpe->ignore_merges_ = optional_bool(model, "ignore_merges", where);
  if (std::string unk = optional_string(model, "unk_token", where); !unk.empty()) bpe->unk_token_ = std::move(unk);

  int32_t max_id = -1;
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0)
      throw LoadError(where + ".vocab: token \"" + token + "\" has id " + id.dump() +
                      ", expected a non-negative integer");
    if (id.get<int64_t>() > kMaxTokenId)
      throw LoadError(where + ".vocab: token \"" + token + "\" has id " + id.dump() + ", over the limit of " +
                      std::to_string(kMaxTokenId) + " (kMaxTokenId)");
    const auto v = int32_t(id.get<int64_t>());
    bpe->vocab_.emplace(token, v);
    max_id = std::max(max_id, v);
  }
  bpe->id_to_token_.resize(size_t(max_id + 1));
  bpe->has_id_.resize(size_t(max_id + 1));
  for (const auto& [token, id] : bpe->vocab_) {
    bpe->id_to_token_[id] = token;
    bpe->has_id_[id] = true;
  }

  const auto& merges = model["merges"];
  bpe->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    std::string a, b;
    if (m.is_string()) {  // "a b"
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        throw LoadError(where + ".merges[" + std::to_string(rank) + "]: " + m.dump() +
                        " is not two tokens separated by one space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      throw LoadError(where + ".merges[" + std::to_string(rank) + "]: " + m.dump() +
                      " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    auto id_of = [&](const std::string& t) {
      auto it = bpe->vocab_.find(t);
      if (it == bpe->vocab_.end())
        throw LoadError(where + ".merges[" + std::to_string(rank) + "]: token \"" + t + "\" is not in the vocab");
      return it->second;
    };
    const int32_t ia = id_of(a), ib = id_of(b), merged = id_of(a + b);
    bpe->merges_.insert_or_assign(pair_key(ia, ib), MergeTarget{int32_t(rank), merged});
  }
  return bpe;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || size_t(id) >= has_id_.size() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

std::vector<int32_t> BpeModel::merge_word(std::string_view word) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](int32_t id, uint32_t len) {
    const auto n = int32_t(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, len});
  };
  // Pending run of unknown characters: unk_len bytes (0: none).
  int32_t unk = -1;
  uint32_t unk_len = 0;
  auto flush_unk = [&] {
    if (unk_len > 0) add(unk, unk_len);
    unk_len = 0;
  };
  for (size_t pos = 0; pos < word.size();) {
    const uint32_t len = unicode::decode_utf8(word, pos).len;
    const std::string_view s = word.substr(pos, len);
    pos += len;
    if (auto id = token_to_id(s)) {
      flush_unk();
      add(*id, len);
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> bytes;
      for (char c : s) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", unsigned(uint8_t(c)));
        if (auto id = token_to_id(name))
          bytes.push_back(*id);
        else
          break;
      }
      if (bytes.size() == s.size()) {
        for (int32_t id : bytes) add(id, 1);
        continue;
      }
    }
    if (unk_token_) {
      if (unk_len > 0 && fuse_unk_) {
        unk_len += len;
      } else {
        flush_unk();
        const auto id = token_to_id(*unk_token_);
        if (!id) throw LoadError(origin_ + ": model.unk_token \"" + *unk_token_ + "\" is not in the vocab");
        unk = *id;
        unk_len = len;
      }
    }
    // Without an unk token an unknown character is dropped, as in HF tokenizers.
  }
  flush_unk();

  std::priority_queue<Merge> queue;
  auto push_pair = [&](int32_t pos) {
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    auto it = merges_.find(pair_key(symbols[pos].id, symbols[next].id));
    if (it != merges_.end()) queue.push({pos, it->second.rank, it->second.id});
  };
  for (int32_t i = 0; i + 1 < int32_t(symbols.size()); ++i) push_pair(i);
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.len == 0 || left.next < 0) continue;
    const Symbol right = symbols[left.next];
    auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.id != top.new_id) continue;  // stale entry
    symbols[left.next].len = 0;
    left.id = top.new_id;
    left.len += right.len;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  std::vector<int32_t> ids;
  for (const Symbol& s : symbols)
    if (s.len != 0) ids.push_back(s.id);
  return ids;
}

void BpeModel::tokenize(const std::string& word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto id = token_to_id(word)) {
      out.push_back(*id);
      return;
    }
  }
  {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids = merge_word(word);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() < kCacheCapacity) cache_.emplace(word, std::move(ids));
}

}  // namespace smolvk
