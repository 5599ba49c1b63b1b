#include "loader/config_json.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "loader/error.h"

namespace smolvk {

ConfigObject::ConfigObject(const nlohmann::json& obj, const nlohmann::json* defaults, std::string source,
                           std::string prefix)
    : obj_(obj), defaults_(defaults), source_(std::move(source)), prefix_(std::move(prefix)) {}

const nlohmann::json* ConfigObject::find(const std::string& key) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool ConfigObject::has(const std::string& key) const { return find(key) != nullptr; }

void ConfigObject::fail(const std::string& key, const std::string& what) const {
  throw LoadError(source_ + ": " + key_path(key) + " " + what);
}

void ConfigObject::wrong_type(const std::string& key, const nlohmann::json& v, const char* expected) const {
  fail(key, "= " + v.dump() + ": expected " + expected);
}

const nlohmann::json& ConfigObject::value(const std::string& key) const {
  if (const auto* v = find(key)) return *v;
  if (defaults_) {
    auto it = defaults_->find(key);
    if (it != defaults_->end() && !it->is_null()) return *it;
  }
  fail(key, "is missing (required key)");
}

int64_t ConfigObject::integer(const std::string& key) const {
  const auto& v = value(key);
  // nlohmann counts unsigned values as integers too: check the range before converting.
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > uint64_t(INT64_MAX)) wrong_type(key, v, "an integer below 2^63");
    return int64_t(v.get<uint64_t>());
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  wrong_type(key, v, "an integer");
}

int64_t ConfigObject::positive(const std::string& key) const {
  int64_t x = integer(key);
  if (x <= 0) fail(key, "= " + std::to_string(x) + ": expected a positive integer");
  return x;
}

double ConfigObject::number(const std::string& key) const {
  const auto& v = value(key);
  if (!v.is_number()) wrong_type(key, v, "a number");
  return v.get<double>();
}

bool ConfigObject::boolean(const std::string& key) const {
  const auto& v = value(key);
  if (!v.is_boolean()) wrong_type(key, v, "true or false");
  return v.get<bool>();
}

std::string ConfigObject::string(const std::string& key) const {
  const auto& v = value(key);
  if (!v.is_string()) wrong_type(key, v, "a string");
  return v.get<std::string>();
}

std::optional<int64_t> ConfigObject::optional_integer(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return integer(key);
}

const nlohmann::json* ConfigObject::object(const std::string& key) const {
  const auto* v = find(key);
  if (v && !v->is_object()) wrong_type(key, *v, "an object");
  return v;
}

nlohmann::json parse_json_text(std::string_view text, const std::string& source) {
  // One pass over the bytes: the depth of [ and { outside strings.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw LoadError(source + ": JSON nests deeper than the limit of " + std::to_string(kMaxJsonDepth) +
                        " arrays/objects (at byte " + std::to_string(i) + ")");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e999
    throw LoadError(source + ": not valid JSON: " + e.what());
  }
}

nlohmann::json read_config_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw LoadError(path.string() + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw LoadError(path.string() + ": read error");
  return parse_json_text(ss.str(), path.string());
}

}  // namespace smolvk
