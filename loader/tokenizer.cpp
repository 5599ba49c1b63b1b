#include "loader/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "loader/config_json.h"
#include "loader/error.h"
#include "loader/tokenizer_added.h"
#include "loader/tokenizer_bpe.h"
#include "loader/tokenizer_bytelevel.h"
#include "loader/tokenizer_pretok.h"
#include "loader/unicode.h"

namespace smolvk {

using nlohmann::json;

struct Tokenizer::Impl {
  std::string origin;
  std::unique_ptr<BpeModel> model;
  AddedVocabulary added;
  PreTokenizer pre_tokenizer;
  bool byte_level_decoder = false;
  std::vector<int32_t> bos_prefix;
  size_t vocab_size = 0;
};

namespace {

std::string read_file(const std::filesystem::path& file, const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) throw LoadError(std::string(what) + " not found: " + file.string());
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) throw LoadError("cannot read " + file.string());
  return ss.str();
}

bool flag(const json& obj, const char* key, bool fallback, const std::string& where) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  if (!obj[key].is_boolean()) throw LoadError(where + ": \"" + key + "\" must be a boolean, got " + obj[key].dump());
  return obj[key].get<bool>();
}

void check_normalizer(const json& spec, const std::string& origin) {
  if (spec.is_null()) return;
  const std::string type = spec.value("type", std::string());
  if (type == "Sequence" && spec.contains("normalizers") && spec["normalizers"].is_array() &&
      spec["normalizers"].empty())
    return;
  throw LoadError(origin + ": normalizer " + spec.dump().substr(0, 200) + " is not supported (only none)");
}

bool parse_decoder(const json& spec, const std::string& origin) {
  if (spec.is_null()) return false;
  if (spec.is_object() && spec.value("type", std::string()) == "ByteLevel") return true;
  throw LoadError(origin + ": decoder " + spec.dump().substr(0, 200) + " is not supported (only ByteLevel or none)");
}

void load_added_tokens(const json& list, const std::string& origin, const BpeModel& model, AddedVocabulary& added) {
  if (list.is_null()) return;
  if (!list.is_array()) throw LoadError(origin + ": \"added_tokens\" must be an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    const std::string where = origin + ": added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id") ||
        !t["id"].is_number_integer() || t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() > kMaxTokenId)
      throw LoadError(where + ": expected {\"id\": integer 0.." + std::to_string(kMaxTokenId) +
                      " (kMaxTokenId), \"content\": string, ...}, got " + t.dump().substr(0, 200));
    AddedToken token;
    token.content = t["content"].get<std::string>();
    // A token the model vocab already has keeps the model's id, as in HF tokenizers.
    token.id = model.token_to_id(token.content).value_or(int32_t(t["id"].get<int64_t>()));
    token.single_word = flag(t, "single_word", false, where);
    token.lstrip = flag(t, "lstrip", false, where);
    token.rstrip = flag(t, "rstrip", false, where);
    token.normalized = flag(t, "normalized", true, where);
    token.special = flag(t, "special", false, where);
    added.add(std::move(token));
  }
}

// Ids a post-processor puts before the single sequence.
void template_prefix(const json& spec, const std::string& origin, std::vector<int32_t>& out) {
  const std::string where = origin + ": post_processor";
  if (spec.is_null()) return;
  const std::string type = spec.is_object() ? spec.value("type", std::string()) : std::string();
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    if (!spec.contains("processors") || !spec["processors"].is_array())
      throw LoadError(where + " Sequence: expected an array \"processors\"");
    for (const json& p : spec["processors"]) template_prefix(p, origin, out);
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    const json& cls = spec.contains("cls") ? spec["cls"] : json();
    if (!cls.is_array() || cls.size() != 2 || !cls[1].is_number_integer() || cls[1].get<int64_t>() < 0 ||
        cls[1].get<int64_t>() > INT32_MAX)
      throw LoadError(where + " " + type + ": expected \"cls\": [token, id]");
    out.push_back(cls[1].get<int32_t>());
    return;
  }
  if (type != "TemplateProcessing") throw LoadError(where + ": unsupported type " + spec.dump().substr(0, 200));
  if (!spec.contains("single") || !spec["single"].is_array())
    throw LoadError(where + " TemplateProcessing: expected an array \"single\"");
  for (const json& item : spec["single"]) {
    if (item.contains("Sequence")) break;
    if (!item.contains("SpecialToken") || !item["SpecialToken"].contains("id") ||
        !item["SpecialToken"]["id"].is_string())
      throw LoadError(where + " TemplateProcessing: unexpected item " + item.dump());
    const std::string name = item["SpecialToken"]["id"];
    const json* entry = spec.contains("special_tokens") && spec["special_tokens"].contains(name)
                            ? &spec["special_tokens"][name]
                            : nullptr;
    if (!entry || !entry->contains("ids") || !(*entry)["ids"].is_array())
      throw LoadError(where + " TemplateProcessing: special token \"" + name +
                      "\" has no \"ids\" in \"special_tokens\"");
    for (const json& id : (*entry)["ids"]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        throw LoadError(where + " TemplateProcessing: special token \"" + name + "\" id " + id.dump() +
                        " is not a non-negative 32-bit integer");
      out.push_back(id.get<int32_t>());
    }
  }
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::filesystem::path& file) {
  const std::string text = read_file(file, "tokenizer.json");
  const std::filesystem::path config_file = file.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(config_file, ec)) return from_json(text, file.string());
  const json config = parse_json_text(read_file(config_file, "tokenizer_config.json"), config_file.string());
  if (!config.is_object()) throw LoadError(config_file.string() + ": expected a JSON object");
  return from_json(text, file.string(), &config);
}

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, const std::string& origin, const json* config) {
  const json root = parse_json_text(tokenizer_json, origin);  // LoadError: malformed or too deep
  try {
    if (!root.is_object()) throw LoadError(origin + ": expected a JSON object");
    if (!root.contains("model")) throw LoadError(origin + ": missing key \"model\"");
    auto impl = std::make_unique<Impl>();
    impl->origin = origin;
    impl->model = BpeModel::from_json(root["model"], origin);
    load_added_tokens(root.value("added_tokens", json()), origin, *impl->model, impl->added);
    check_normalizer(root.value("normalizer", json()), origin);
    impl->pre_tokenizer = PreTokenizer::from_json(root.value("pre_tokenizer", json()), origin);
    impl->byte_level_decoder = parse_decoder(root.value("decoder", json()), origin);

    int32_t max_id = impl->model->max_id();
    for (const AddedToken& t : impl->added.tokens()) max_id = std::max(max_id, t.id);
    impl->vocab_size = size_t(max_id + 1);

    Tokenizer tok(std::move(impl));
    const json add_bos = config ? config->value("add_bos_token", json()) : json();
    if (add_bos.is_boolean()) {
      if (add_bos.get<bool>()) {
        const json bos = config->value("bos_token", json());
        const json name = bos.is_object() ? bos.value("content", json()) : bos;
        if (!name.is_string())
          throw LoadError(origin + ": tokenizer_config.json sets add_bos_token but bos_token " + bos.dump() +
                          " is not a token");
        tok.impl_->bos_prefix.push_back(
            tok.require_token(name.get<std::string>(), "bos_token of tokenizer_config.json"));
      }
    } else {
      template_prefix(root.value("post_processor", json()), origin, tok.impl_->bos_prefix);
    }
    return tok;
  } catch (const json::exception& e) {
    throw LoadError(origin + ": unexpected JSON layout: " + e.what());
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  std::vector<std::string> words;
  for (const auto& raw : impl_->added.split(text, false)) {
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    // No normalizer is supported, so the normalized text is the raw text.
    const std::string_view piece = text.substr(raw.begin, raw.end - raw.begin);
    for (const auto& seg : impl_->added.split(piece, true)) {
      if (seg.id >= 0) {
        ids.push_back(seg.id);
        continue;
      }
      words.clear();
      impl_->pre_tokenizer.run(piece.substr(seg.begin, seg.end - seg.begin), words);
      for (const std::string& w : words) impl_->model->tokenize(w, ids);
    }
  }
  return ids;
}

std::span<const int32_t> Tokenizer::bos_prefix() const { return impl_->bos_prefix; }

std::optional<std::string> Tokenizer::token_bytes(int32_t id, bool skip_special) const {
  const std::string* content = nullptr;
  if (const AddedToken* t = impl_->added.find(id))
    content = &t->content;
  else
    content = impl_->model->id_to_token(id);
  if (!content) return std::nullopt;
  if (skip_special) {
    const AddedToken* t = impl_->added.find(*content);
    if (t && t->special) return std::nullopt;
  }
  if (!impl_->byte_level_decoder) return *content;
  std::string bytes;
  bytes.reserve(content->size());
  for (size_t pos = 0; pos < content->size();) {
    const unicode::Utf8Unit u = unicode::decode_utf8(*content, pos);
    const auto b = u.valid ? bytelevel::unmap(u.cp) : std::nullopt;
    if (!b) return *content;  // not a byte-level token: its text as it is
    bytes += char(*b);
    pos += u.len;
  }
  return bytes;
}

bool Tokenizer::joins_with_space() const { return !impl_->byte_level_decoder; }

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  StreamDecoder stream(*this, skip_special);
  std::string out;
  for (int32_t id : ids) out += stream.feed(id);
  return out + stream.flush();
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* t = impl_->added.find(token)) return t->id;
  return impl_->model->token_to_id(token);
}

int32_t Tokenizer::require_token(std::string_view token, const std::string& why) const {
  if (auto id = token_to_id(token)) return *id;
  throw LoadError(impl_->origin + ": token \"" + std::string(token) + "\" is not in the vocabulary (" + why + ")");
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* t = impl_->added.find(id)) return t->content;
  if (const std::string* s = impl_->model->id_to_token(id)) return *s;
  throw std::out_of_range(impl_->origin + ": no token has id " + std::to_string(id));
}

size_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

bool Tokenizer::is_special(int32_t id) const {
  const AddedToken* t = impl_->added.find(id);
  return t && t->special;
}

const std::string& Tokenizer::origin() const { return impl_->origin; }

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::feed(int32_t id) {
  const std::optional<std::string> bytes = tokenizer_->token_bytes(id, skip_special_);
  if (!bytes) return {};
  // HF joins the kept tokens with " " when there is no decoder.
  if (tokenizer_->joins_with_space() && !first_) pending_ += ' ';
  first_ = false;
  pending_ += *bytes;
  const size_t n = unicode::stable_utf8_prefix(pending_);
  std::string out = unicode::utf8_lossy(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = unicode::utf8_lossy(pending_);
  pending_.clear();
  first_ = true;
  return out;
}

}  // namespace smolvk
