#include "loader/checkpoint.h"

#include <string>

#include "loader/error.h"

namespace smolvk {

Checkpoint Checkpoint::open(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir))
    throw LoadError(dir.string() +
                    ": not a directory (expected a Hugging Face model folder with "
                    "config.json, model.safetensors, tokenizer.json)");
  ModelConfig config = load_model_config(dir);
  const auto tok_path = dir / "tokenizer.json";
  if (!std::filesystem::exists(tok_path))
    throw LoadError(tok_path.string() + ": missing (the tokenizer of the checkpoint is required)");
  Checkpoint ck{dir,
                std::move(config),
                Tokenizer::load(tok_path),
                ProcessorConfig::load(dir),
                load_generation_config(dir),
                ChatTemplate::load(dir),
                ImageTokens::load(dir),
                {}};
  ck.processor.check_against_model(int(ck.config.vision.image_size), int(ck.config.vision.patch_size),
                                   int(ck.config.scale_factor), (dir / "config.json").string());
  const int32_t image_id = ck.tokenizer.require_token(ck.image_tokens.image, "the image placeholder");
  if (image_id != ck.config.image_token_id)
    throw LoadError((dir / "config.json").string() + ": image_token_id " + std::to_string(ck.config.image_token_id) +
                    " differs from tokenizer.json's id " + std::to_string(image_id) + " for " + ck.image_tokens.image);
  ck.stop_ids = stop_token_ids(ck.generation, ck.tokenizer);
  return ck;
}

}  // namespace smolvk
