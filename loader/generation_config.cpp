#include "loader/generation_config.h"

#include "loader/config_json.h"
#include "loader/error.h"

namespace smolvk {

GenerationConfig parse_generation_config(const nlohmann::json& j, const std::string& source_name) {
  if (!j.is_object()) throw LoadError(source_name + ": expected a JSON object");
  ConfigObject g(j, nullptr, source_name, "");
  GenerationConfig c;
  c.from_file = true;
  if (const auto* eos = g.find("eos_token_id")) {
    auto bad = [&] { g.fail("eos_token_id", "= " + eos->dump() + ": expected a token id or a list of ids"); };
    auto id = [&](const nlohmann::json& v) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) bad();
      return v.get<int64_t>();
    };
    if (eos->is_array()) {
      for (const auto& v : *eos) c.eos_token_ids.push_back(id(v));
    } else {
      c.eos_token_ids.push_back(id(*eos));
    }
  }
  for (auto [key, slot] : {std::pair{"bos_token_id", &c.bos_token_id}, std::pair{"pad_token_id", &c.pad_token_id},
                           std::pair{"max_new_tokens", &c.max_new_tokens}}) {
    *slot = g.optional_integer(key);
    if (*slot && **slot < 0) g.fail(key, "= " + std::to_string(**slot) + ": expected a non-negative integer");
  }
  return c;
}

GenerationConfig load_generation_config(const std::filesystem::path& dir) {
  auto path = dir / "generation_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  return parse_generation_config(read_config_json_file(path), path.string());
}

}  // namespace smolvk
