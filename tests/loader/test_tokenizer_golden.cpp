// Parity with HF tokenizers on the fixtures: tests/data/tokenizer_cases.json (made on the
// idefics3_f32 tokenizer) and the prompt ids of every golden request.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loader/tokenizer.h"
#include "tests/loader/golden_util.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;

TEST(TokenizerGolden, EveryCaseOfTokenizerCases) {
  const fs::path cases_file = test::data_dir() / "tokenizer_cases.json";
  const fs::path tok_file = test::data_dir() / "idefics3_f32" / "tokenizer.json";
  // Committed fixtures (tests/data): missing is a failure, not a skip.
  ASSERT_TRUE(fs::exists(cases_file)) << cases_file << " is missing";
  ASSERT_TRUE(fs::exists(tok_file)) << tok_file << " is missing";
  const Tokenizer tok = Tokenizer::load(tok_file);
  EXPECT_TRUE(tok.bos_prefix().empty());  // SmolLM2 adds no BOS
  const nlohmann::json cases = test::read_json(cases_file);
  ASSERT_GE(cases.size(), 50u);
  for (const auto& c : cases) {
    const std::string text = c["text"];
    const auto want = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = tok.encode(text);
    EXPECT_EQ(got, want) << "text: " << text;
    EXPECT_EQ(tok.decode(want), c["decoded"].get<std::string>()) << "text: " << text;
    EXPECT_EQ(test::stream_decode(tok, want), c["decoded"].get<std::string>()) << "text: " << text;
    if (c.contains("decoded_skip_special")) {
      EXPECT_EQ(tok.decode(want, true), c["decoded_skip_special"].get<std::string>()) << "text: " << text;
    }
  }
}

// The prompt rows of the golden requests hold one "<image>" per image, which the processor
// expands into the tile layout (the prompt code's job). Every text piece between those
// placeholders is delimited by added tokens either way, so its ids must appear in order in
// input_ids (left padding removed): the first at the start, the last at the end.
TEST(TokenizerGolden, PromptTextPiecesOfEveryRequest) {
  int checked = 0;
  for (const char* name : {"idefics3_f32", "smolvlm_bf16", "smolvlm_f32_s3"}) {
    const fs::path dir = test::data_dir() / name;
    if (!fs::exists(dir / "golden" / "golden.json")) continue;
    const Tokenizer tok = Tokenizer::load(dir / "tokenizer.json");
    const nlohmann::json golden = test::read_json(dir / "golden" / "golden.json");
    for (const auto& req : golden["requests"]) {
      for (size_t row = 0; row < req["prompt_text"].size(); ++row) {
        const auto ids = req["input_ids"][row].get<std::vector<int32_t>>();
        const auto mask = req["attention_mask"][row].get<std::vector<int32_t>>();
        std::vector<int32_t> real;
        for (size_t i = 0; i < ids.size(); ++i)
          if (mask[i] != 0) real.push_back(ids[i]);
        const std::string prompt = req["prompt_text"][row];
        std::vector<std::string> pieces;
        for (size_t at = 0;;) {
          const size_t next = prompt.find("<image>", at);
          pieces.push_back(prompt.substr(at, next == std::string::npos ? next : next - at));
          if (next == std::string::npos) break;
          at = next + 7;
        }
        const std::string where =
            std::string(name) + " / " + req["name"].get<std::string>() + " row " + std::to_string(row);
        size_t pos = tok.bos_prefix().size();
        ASSERT_TRUE(std::equal(tok.bos_prefix().begin(), tok.bos_prefix().end(), real.begin())) << where;
        for (size_t p = 0; p < pieces.size(); ++p) {
          const std::vector<int32_t> want = tok.encode(pieces[p]);
          const auto found = std::search(real.begin() + pos, real.end(), want.begin(), want.end());
          ASSERT_NE(found, real.end()) << where << " piece \"" << pieces[p] << "\"";
          if (p == 0) {
            EXPECT_EQ(size_t(found - real.begin()), pos) << where;
          }
          pos = size_t(found - real.begin()) + want.size();
          if (p + 1 == pieces.size()) {
            EXPECT_EQ(pos, real.size()) << where;
          }
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0) << "no golden request under " << test::data_dir() << " was checked";
}

TEST(TokenizerGolden, EncodesTenThousandCharacters) {
  const fs::path tok_file = test::data_dir() / "idefics3_f32" / "tokenizer.json";
  ASSERT_TRUE(fs::exists(tok_file)) << tok_file << " is missing";
  const Tokenizer tok = Tokenizer::load(tok_file);
  std::string text;
  for (int i = 0; text.size() < 10000; ++i)
    text += "The quick brown fox " + std::to_string(i) + " jumps, naïve 你好 it's\n";
  // (No time limit: a test is not a benchmark, and the sanitizer build runs at -O0.)
  const std::vector<int32_t> ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), text);
}

}  // namespace
}  // namespace smolvk
