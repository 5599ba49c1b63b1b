#pragma once
// generation_config.json: the ids generation stops on and pads with. The file is optional.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smolvk {

struct GenerationConfig {
  bool from_file = false;              // false: the directory had no generation_config.json
  std::vector<int64_t> eos_token_ids;  // eos_token_id, an int or a list, as a list
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> pad_token_id;
  std::optional<int64_t> max_new_tokens;
};

GenerationConfig load_generation_config(const std::filesystem::path& dir);
GenerationConfig parse_generation_config(const nlohmann::json& j, const std::string& source_name);

}  // namespace smolvk
