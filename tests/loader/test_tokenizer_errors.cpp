// Bad tokenizer.json inputs: each is a LoadError naming the file and the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "loader/error.h"
#include "tests/loader/test_tokenizer_tiny.h"

namespace smolvk {
namespace {

using test::TinyTokenizer;

// The LoadError message from building `t`, or "" when it loads.
std::string load_error(const TinyTokenizer& t) {
  try {
    t.build();
  } catch (const LoadError& e) {
    return e.what();
  }
  return "";
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("smolvk_tok_" + name + "_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

TEST(TokenizerErrors, MissingFile) {
  const auto file = temp_dir("missing") / "tokenizer.json";
  try {
    Tokenizer::load(file);
    FAIL() << "no error";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

TEST(TokenizerErrors, BadJson) {
  const auto dir = temp_dir("badjson");
  write(dir / "tokenizer.json", "{\"model\": {\"type\": \"BPE\", ");
  try {
    Tokenizer::load(dir / "tokenizer.json");
    FAIL() << "no error";
  } catch (const LoadError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
  }
  // A broken tokenizer_config.json next to a good tokenizer.json is named too.
  write(dir / "tokenizer.json", TinyTokenizer().j.dump());
  write(dir / "tokenizer_config.json", "[1,");
  try {
    Tokenizer::load(dir / "tokenizer.json");
    FAIL() << "no error";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(TokenizerErrors, LoadsFromDirectoryFile) {
  const auto dir = temp_dir("good");
  TinyTokenizer t;
  const int32_t bos = t.add_token("<|begin_of_text|>", true);
  write(dir / "tokenizer.json", t.j.dump());
  write(dir / "tokenizer_config.json", R"({"add_bos_token": true, "bos_token": "<|begin_of_text|>"})");
  const Tokenizer tok = Tokenizer::load(dir / "tokenizer.json");
  ASSERT_EQ(tok.bos_prefix().size(), 1u);
  EXPECT_EQ(tok.bos_prefix()[0], bos);
  std::filesystem::remove_all(dir);
}

TEST(TokenizerErrors, UnknownModelType) {
  TinyTokenizer t;
  t.j["model"]["type"] = "WordPiece";
  const std::string msg = load_error(t);
  EXPECT_NE(msg.find("WordPiece"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tiny/tokenizer.json"), std::string::npos) << msg;
}

TEST(TokenizerErrors, UnknownPreTokenizer) {
  TinyTokenizer t;
  t.j["pre_tokenizer"]["pretokenizers"][1] = {{"type", "Metaspace"}, {"replacement", "_"}};
  EXPECT_NE(load_error(t).find("Metaspace"), std::string::npos) << load_error(t);
}

TEST(TokenizerErrors, UnsupportedNormalizerAndDecoder) {
  TinyTokenizer n;
  n.j["normalizer"] = {{"type", "NFKC"}};
  EXPECT_NE(load_error(n).find("NFKC"), std::string::npos) << load_error(n);
  TinyTokenizer d;
  d.j["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}};
  EXPECT_NE(load_error(d).find("decoder"), std::string::npos) << load_error(d);
}

TEST(TokenizerErrors, BadMerges) {
  TinyTokenizer t;
  t.j["model"]["merges"].push_back("a zz");
  const std::string msg = load_error(t);
  EXPECT_NE(msg.find("merges[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"zz\""), std::string::npos) << msg;
  TinyTokenizer u;
  u.j["model"]["merges"].push_back("abc");
  EXPECT_NE(load_error(u).find("\"abc\""), std::string::npos) << load_error(u);
  TinyTokenizer v;
  v.j["model"]["merges"].push_back(42);
  EXPECT_NE(load_error(v).find("merges[0]"), std::string::npos) << load_error(v);
}

TEST(TokenizerErrors, BadVocabAndAddedTokens) {
  TinyTokenizer t;
  t.j["model"]["vocab"]["x"] = "seven";
  EXPECT_NE(load_error(t).find("\"x\""), std::string::npos) << load_error(t);
  TinyTokenizer a;
  a.j["added_tokens"].push_back({{"content", "<x>"}});
  EXPECT_NE(load_error(a).find("added_tokens[0]"), std::string::npos) << load_error(a);
  TinyTokenizer m;
  m.j.erase("model");
  EXPECT_NE(load_error(m).find("\"model\""), std::string::npos) << load_error(m);
  TinyTokenizer f;
  f.j["pre_tokenizer"]["pretokenizers"][0]["individual_digits"] = "yes";
  EXPECT_NE(load_error(f).find("individual_digits"), std::string::npos) << load_error(f);
}

TEST(TokenizerErrors, RequireTokenNamesTokenAndFile) {
  const Tokenizer tok = TinyTokenizer().build();
  try {
    tok.require_token("<image>", "image placeholder of the prompt");
    FAIL() << "no error";
  } catch (const LoadError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("<image>"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tiny/tokenizer.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("image placeholder"), std::string::npos) << msg;
  }
  EXPECT_EQ(tok.require_token("a", "test"), 'a');
}

}  // namespace
}  // namespace smolvk
