#pragma once
// transformers' default values for the config classes smolvk reads, one table per class.
#include <nlohmann/json.hpp>

namespace smolvk::config_defaults {

// Idefics3VisionConfig == SmolVLMVisionConfig.
const nlohmann::json& vision();
// LlamaConfig, the text_config class of Idefics3Config / SmolVLMConfig.
const nlohmann::json& text();
// Idefics3Config / SmolVLMConfig top-level keys.
const nlohmann::json& top();
// Keys Idefics3Config / SmolVLMConfig override when text_config is absent altogether.
const nlohmann::json& text_when_absent();

}  // namespace smolvk::config_defaults
