#pragma once
// Pre-tokenization of HF tokenizers, driven by tokenizer.json's "pre_tokenizer":
// Sequence, Digits and ByteLevel (with GPT-2's split regex implemented by hand).
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace smolvk {

// Splits like 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (find-all, pieces cover the input). Ill-formed UTF-8 bytes count as [^\s\p{L}\p{N}].
void split_gpt2(std::string_view text, std::vector<std::string_view>& out);

// Splits off numeric characters (\p{N}): each on its own when `individual`, else runs.
void split_digits(std::string_view text, bool individual, std::vector<std::string_view>& out);

class PreTokenizer {
 public:
  // `spec` is tokenizer.json's "pre_tokenizer" (null: no pre-tokenizer); `origin` names the
  // file in errors.
  static PreTokenizer from_json(const nlohmann::json& spec, const std::string& origin);

  // The words of one piece of text that holds no added token, as the model sees them.
  void run(std::string_view piece, std::vector<std::string>& words) const;

 private:
  struct Step {
    enum class Kind { digits, byte_level } kind;
    bool individual_digits = false;
    bool add_prefix_space = false;
    bool use_regex = true;
  };
  static void add_steps(const nlohmann::json& spec, const std::string& origin, std::vector<Step>& steps);
  std::vector<Step> steps_;
};

}  // namespace smolvk
