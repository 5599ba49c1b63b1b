#pragma once
// Pre-tokenization of HF tokenizers, driven by tokenizer.json's "pre_tokenizer": Sequence,
// Digits, ByteLevel and Split. There is no regex engine: the split regexes that real checkpoints
// use (GPT-2's, Llama-3's, Qwen2's) are matched by hand, recognised by their exact pattern text.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace smolvk {

// Splits like 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (find-all, pieces cover the input). Ill-formed UTF-8 bytes count as [^\s\p{L}\p{N}].
void split_gpt2(std::string_view text, std::vector<std::string_view>& out);

// Splits like Llama-3's (GPT-4 cl100k's) regex, leftmost-first as Oniguruma matches it:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with `max_digits` 3; Qwen2's pattern is the same with \p{N} (`max_digits` 1). Find-all, pieces
// cover the input. \s is White_Space, \p{N} is Nd + Nl + No; (?i) lets 's' match 'S' and 'ſ'
// (U+017F, which case-folds to s). Ill-formed UTF-8 bytes count as [^\s\p{L}\p{N}].
void split_llama3(std::string_view text, std::vector<std::string_view>& out, size_t max_digits = 3);

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
  // HF's SplitDelimiterBehavior: what becomes of the pieces the pattern matched.
  enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };
  // A Split pattern: a literal {"String": ...} or one of the hand-written regexes.
  enum class SplitPattern { literal, gpt2, llama3, qwen2 };
  struct Step {
    enum class Kind { digits, byte_level, split } kind;
    bool individual_digits = false;
    bool add_prefix_space = false;
    bool use_regex = true;
    SplitPattern pattern = SplitPattern::literal;
    std::string literal;
    SplitBehavior behavior = SplitBehavior::isolated;
    bool invert = false;
  };
  static Step split_step(const nlohmann::json& spec, const std::string& where);
  static void split(const Step& step, std::string_view text, std::vector<std::string_view>& out);
  static void add_steps(const nlohmann::json& spec, const std::string& origin, std::vector<Step>& steps);
  std::vector<Step> steps_;
};

}  // namespace smolvk
