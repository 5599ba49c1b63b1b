#pragma once
// Model shapes by name, for benchmarks with random weights (Model::random): the published
// SmolVLM checkpoints' config.json values, and "tiny" for tests.
#include <string>
#include <string_view>
#include <vector>

#include "loader/config.h"

namespace smolvk {

// "tiny", "256m", "500m", "2.2b", "smolvlm2-2.2b" or "8b" (case-insensitive).
// std::invalid_argument naming the value and the known names otherwise.
ModelConfig preset_config(std::string_view name);
std::vector<std::string> preset_names();

}  // namespace smolvk
