#pragma once
// A Hugging Face SmolVLM / Idefics3 checkpoint folder as users download it: the one place that
// knows its files' names — config.json, tokenizer.json (+ tokenizer_config.json),
// preprocessor / processor configs, generation_config.json, the chat template, and
// model.safetensors or its shard index — and checks them against each other.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "loader/config.h"
#include "loader/generation_config.h"
#include "loader/processor_config.h"
#include "loader/prompt.h"
#include "loader/safetensors.h"
#include "loader/tokenizer.h"

namespace smolvk {

struct Checkpoint {
  std::filesystem::path dir;
  ModelConfig config;
  Tokenizer tokenizer;
  ProcessorConfig processor;
  GenerationConfig generation;
  ChatTemplate chat_template;
  ImageTokens image_tokens;
  // Where generation stops: generation_config.json's eos_token_id(s), else the tokenizer's
  // end-of-utterance token (stop_token_ids).
  std::vector<int32_t> stop_ids;

  // Reads every text file of `dir`; LoadError naming the file and the key on a missing file,
  // a bad value, or files that disagree (image_token_id against the tokenizer's placeholder,
  // the processor's tile size against the vision config).
  static Checkpoint open(const std::filesystem::path& dir);
  // The weights, mapped: model.safetensors, or the shards model.safetensors.index.json names.
  SafeTensors weights_file() const { return SafeTensors::open(dir); }
};

}  // namespace smolvk
