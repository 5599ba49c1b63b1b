// Parity with HF tokenizers on a tokenizer with Llama-3's tokenizer.json sections:
// tests/data/llama3_tokenizer/ (tokenizer.json, tokenizer_config.json, cases.json), written by
// tools/reference/make_llama3_tokenizer_golden.py. tests/CMakeLists.txt compiles this file only
// once tests/data/llama3_tokenizer/cases.json exists.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loader/tokenizer.h"
#include "loader/tokenizer_pretok.h"
#include "tests/loader/golden_util.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMakeFixture =
    "; make it with `python3 tools/reference/make_llama3_tokenizer_golden.py` (Python with the `tokenizers` "
    "package) from the repository root";

fs::path fixture_dir() { return test::data_dir() / "llama3_tokenizer"; }

std::vector<std::string> split_pieces(const std::string& text) {
  std::vector<std::string_view> parts;
  split_llama3(text, parts);
  return {parts.begin(), parts.end()};
}

TEST(TokenizerLlama3Golden, EveryCase) {
  const fs::path cases_file = fixture_dir() / "cases.json";
  const fs::path tok_file = fixture_dir() / "tokenizer.json";
  // Committed fixtures: missing is a failure, not a skip.
  ASSERT_TRUE(fs::exists(cases_file)) << cases_file << " is missing" << kMakeFixture;
  ASSERT_TRUE(fs::exists(tok_file)) << tok_file << " is missing" << kMakeFixture;
  const nlohmann::json spec = test::read_json(tok_file);
  ASSERT_EQ(spec["model"].value("ignore_merges", false), true) << "not a Llama-3 style fixture" << kMakeFixture;
  const Tokenizer tok = Tokenizer::load(tok_file);  // with its tokenizer_config.json
  ASSERT_EQ(tok.bos_prefix().size(), 1u);
  EXPECT_EQ(tok.bos_prefix()[0], tok.token_to_id("<|begin_of_text|>").value_or(-1));
  const PreTokenizer pre = PreTokenizer::from_json(spec["pre_tokenizer"], tok_file.string());

  const nlohmann::json cases = test::read_json(cases_file);
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    const std::string text = c["text"];
    // The Split regex alone, then the whole pre-tokenizer (byte-level mapped words).
    EXPECT_EQ(split_pieces(text), c["split"].get<std::vector<std::string>>()) << "text: " << text;
    std::vector<std::string> words;
    pre.run(text, words);
    EXPECT_EQ(words, c["pre_tokens"].get<std::vector<std::string>>()) << "text: " << text;
    // encode(text, add_special_tokens=True): the template's BOS, then the text's ids.
    const auto want = c["ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> got(tok.bos_prefix().begin(), tok.bos_prefix().end());
    const std::vector<int32_t> body = tok.encode(text);
    got.insert(got.end(), body.begin(), body.end());
    EXPECT_EQ(got, want) << "text: " << text;
    EXPECT_EQ(tok.decode(want), c["decoded"].get<std::string>()) << "text: " << text;
    EXPECT_EQ(test::stream_decode(tok, want), c["decoded"].get<std::string>()) << "text: " << text;
    EXPECT_EQ(tok.decode(want, true), c["decoded_skip_special"].get<std::string>()) << "text: " << text;
  }
}

}  // namespace
}  // namespace smolvk
