#pragma once
// Typed reads from one JSON object of a config file, with transformers' defaults for missing
// keys and errors that name the file, the dotted key and the offending value.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace smolvk {

class ConfigObject {
 public:
  // obj must outlive this; defaults may be null (every key then required). prefix is the
  // dotted path of obj inside the file ("" or "text_config.").
  ConfigObject(const nlohmann::json& obj, const nlohmann::json* defaults, std::string source, std::string prefix);

  // A JSON null counts as missing, as transformers treats None.
  bool has(const std::string& key) const;
  const nlohmann::json* find(const std::string& key) const;

  int64_t integer(const std::string& key) const;
  int64_t positive(const std::string& key) const;  // > 0
  double number(const std::string& key) const;     // accepts integers
  bool boolean(const std::string& key) const;
  std::string string(const std::string& key) const;
  std::optional<int64_t> optional_integer(const std::string& key) const;
  // A nested object, or nullptr when absent; error when present but not an object.
  const nlohmann::json* object(const std::string& key) const;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  std::string key_path(const std::string& key) const { return prefix_ + key; }
  const std::string& source() const { return source_; }

 private:
  // The value for key: the file's, else the default's; throws if neither exists.
  const nlohmann::json& value(const std::string& key) const;
  [[noreturn]] void wrong_type(const std::string& key, const nlohmann::json& v, const char* expected) const;

  const nlohmann::json& obj_;
  const nlohmann::json* defaults_;
  std::string source_;
  std::string prefix_;
};

// Deepest nesting of arrays/objects accepted in any JSON file the loader reads (configs,
// tokenizer.json, safetensors headers and shard indexes nest at most 6 deep). Deeper input
// would make every recursive walk of the parsed value (dump, compare, copy) a stack risk.
inline constexpr int kMaxJsonDepth = 128;

// Parses JSON text; LoadError naming `source` if it is malformed or nests deeper than
// kMaxJsonDepth (checked before anything is allocated). Every loader JSON read goes here.
nlohmann::json parse_json_text(std::string_view text, const std::string& source);
// Reads and parses a JSON file; LoadError naming the path if it is unreadable or malformed.
nlohmann::json read_config_json_file(const std::filesystem::path& path);

}  // namespace smolvk
