// Tokenizer encode on a hand-built tokenizer.json: merges, digits, whitespace, added tokens.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loader/unicode.h"
#include "tests/loader/test_tokenizer_tiny.h"

namespace smolvk {
namespace {

using test::byte_ids;
using test::ids_of;
using test::TinyTokenizer;
using Ids = std::vector<int32_t>;

// "Ġthe", "Ġhello", "ll" ... in a fixed rank order; "h e" (rank 1) wins over "Ġ he".
TinyTokenizer english() {
  TinyTokenizer t;
  t.merge("Ġ", "t");
  t.merge("h", "e");
  t.merge("Ġt", "he");
  t.merge("l", "l");
  t.merge("Ġ", "he");
  t.merge("Ġhe", "ll");
  t.merge("Ġhell", "o");
  return t;
}

TEST(Tokenizer, MergesByRank) {
  const Tokenizer tok = english().build();
  EXPECT_EQ(tok.encode("the hello"), ids_of(tok, {"t", "he", "Ġhello"}));
  EXPECT_EQ(tok.encode(" the"), ids_of(tok, {"Ġthe"}));
  EXPECT_EQ(tok.encode("hell"), ids_of(tok, {"he", "ll"}));
  EXPECT_EQ(tok.encode(" hell"), ids_of(tok, {"Ġhell"}));
  EXPECT_EQ(tok.encode(""), Ids{});
}

TEST(Tokenizer, LowestRankWinsThenLeftmost) {
  TinyTokenizer a;  // "e l" before "l l": "ell" -> "el" "l"
  a.merge("e", "l");
  a.merge("l", "l");
  const Tokenizer ta = a.build();
  EXPECT_EQ(ta.encode("ell"), ids_of(ta, {"el", "l"}));
  TinyTokenizer b;  // "l l" before "e l": "ell" -> "e" "ll"
  b.merge("l", "l");
  b.merge("e", "l");
  const Tokenizer tb = b.build();
  EXPECT_EQ(tb.encode("ell"), ids_of(tb, {"e", "ll"}));
  // Equal ranks: leftmost first, then the new pair is merged by its own rank.
  TinyTokenizer c;
  c.merge("a", "a");
  c.merge("aa", "aa");
  const Tokenizer tc = c.build();
  EXPECT_EQ(tc.encode("aaaaa"), ids_of(tc, {"aaaa", "a"}));
  EXPECT_EQ(tc.encode("aaa"), ids_of(tc, {"aa", "a"}));
}

TEST(Tokenizer, MergesAsPairsEqualStrings) {
  TinyTokenizer s = english();
  TinyTokenizer p;
  p.merge("Ġ", "t", true);
  p.merge("h", "e", true);
  p.merge("Ġt", "he", true);
  p.merge("l", "l", true);
  p.merge("Ġ", "he", true);
  p.merge("Ġhe", "ll", true);
  p.merge("Ġhell", "o", true);
  EXPECT_EQ(s.build().encode("the hello the hell"), p.build().encode("the hello the hell"));
}

TEST(Tokenizer, IgnoreMerges) {
  TinyTokenizer t;
  t.merge("a", "b");
  t.j["model"]["vocab"]["abc"] = 400;  // reachable only as a whole word
  EXPECT_EQ(t.build().encode("abc"), (Ids{256, 'c'}));
  t.j["model"]["ignore_merges"] = true;
  EXPECT_EQ(t.build().encode("abc"), (Ids{400}));
}

TEST(Tokenizer, DigitsAreSplitIndividually) {
  const Tokenizer tok = english().build();
  // Sequence[Digits(individual), ByteLevel]: the space before a number stands alone.
  EXPECT_EQ(tok.encode("the 2024"), (Ids{'t', tok.token_to_id("he").value(), ' ', '2', '0', '2', '4'}));
}

TEST(Tokenizer, WhitespaceRunsAndNewlines) {
  const Tokenizer tok = english().build();
  // "Ġ" is byte 0x20 (id 32), "Ċ" byte 0x0A (id 10).
  EXPECT_EQ(tok.encode("the   the"),
            (Ids{'t', tok.token_to_id("he").value(), ' ', ' ', tok.token_to_id("Ġthe").value()}));
  EXPECT_EQ(tok.encode("he\n\n the"),
            (Ids{tok.token_to_id("he").value(), '\n', '\n', tok.token_to_id("Ġthe").value()}));
}

TEST(Tokenizer, ContractionsAreSeparateWords) {
  TinyTokenizer t;
  const int32_t apos_t = t.merge("'", "t");
  const int32_t nt = t.merge("n", "'");  // never used: "'" starts a new word
  const Tokenizer tok = t.build();
  EXPECT_EQ(tok.encode("don't"), (Ids{'d', 'o', 'n', apos_t}));
  EXPECT_NE(nt, apos_t);
}

TEST(Tokenizer, CjkAndEmojiAreBytes) {
  const Tokenizer tok = english().build();
  const std::string text = "你好 👋🏽!";
  EXPECT_EQ(tok.encode(text), byte_ids(text));
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
}

TEST(Tokenizer, IllFormedUtf8IsEncodedAsBytes) {
  const Tokenizer tok = english().build();
  const std::string text = "a\xff\xfe b\xc3";
  EXPECT_EQ(tok.encode(text), byte_ids(text));
  EXPECT_EQ(tok.decode(tok.encode(text)), "a\uFFFD\uFFFD b\uFFFD");
}

TEST(Tokenizer, AddedTokensInsideText) {
  TinyTokenizer t = english();
  const int32_t start = t.add_token("<|im_start|>", true);
  const int32_t image = t.add_token("<image>", true);
  const int32_t eou = t.add_token("<end_of_utterance>", true);
  const Tokenizer tok = t.build();
  const std::string text = "<|im_start|>User:<image>the<end_of_utterance>\nAssistant:";
  Ids want{start, 'U', 's', 'e', 'r', ':', image, 't', tok.token_to_id("he").value(), eou, '\n'};
  for (char c : std::string("Assistant:")) want.push_back(uint8_t(c));
  EXPECT_EQ(tok.encode(text), want);
  EXPECT_EQ(tok.encode("<image><image>"), (Ids{image, image}));
  EXPECT_EQ(tok.encode("<imag"), byte_ids("<imag"));
  EXPECT_TRUE(tok.is_special(image));
  EXPECT_FALSE(tok.is_special('a'));
  EXPECT_EQ(tok.token_to_id("<image>"), image);
  EXPECT_EQ(tok.id_to_token(image), "<image>");
  EXPECT_EQ(tok.vocab_size(), size_t(eou + 1));
}

TEST(Tokenizer, AddedTokensLongestMatch) {
  TinyTokenizer t;
  const int32_t ab = t.add_token("ab", false);
  const int32_t abc = t.add_token("abc", false);
  const int32_t row1 = t.add_token("<row_1_col_1>", true);
  const int32_t row10 = t.add_token("<row_1_col_10>", true);
  const Tokenizer tok = t.build();
  EXPECT_EQ(tok.encode("xabcxabx"), (Ids{'x', abc, 'x', ab, 'x'}));
  EXPECT_EQ(tok.encode("<row_1_col_10><row_1_col_1>"), (Ids{row10, row1}));
}

TEST(Tokenizer, AddedTokenStripAndSingleWord) {
  TinyTokenizer t;
  const int32_t mask = t.add_token("<mask>", true, /*lstrip=*/true, /*rstrip=*/true);
  const int32_t word = t.add_token("ony", false, false, false, /*single_word=*/true);
  const Tokenizer tok = t.build();
  // lstrip/rstrip swallow the whitespace (including tabs and U+2000) around the token.
  EXPECT_EQ(tok.encode("a <mask> b"), (Ids{'a', mask, 'b'}));
  EXPECT_EQ(tok.encode("a\t<mask>\u2000b"), (Ids{'a', mask, 'b'}));
  // single_word: only where no word character touches it.
  EXPECT_EQ(tok.encode("ony, Anthony"), (Ids{word, ',', ' ', 'A', 'n', 't', 'h', 'o', 'n', 'y'}));
  EXPECT_EQ(tok.encode("x ony"), (Ids{'x', ' ', word}));
}

TEST(Tokenizer, RawTokensMatchBeforeNormalizedOnes) {
  TinyTokenizer t;
  const int32_t abc = t.add_token("abc", false, false, false, false, /*normalized=*/true);
  const int32_t bc = t.add_token("bc", false, false, false, false, /*normalized=*/false);
  const Tokenizer tok = t.build();
  EXPECT_EQ(tok.encode("abc"), (Ids{'a', bc}));
  EXPECT_EQ(tok.encode("xabcd"), (Ids{'x', 'a', bc, 'd'}));
  EXPECT_EQ(tok.encode("abd abc"), (Ids{'a', 'b', 'd', ' ', 'a', bc}));
  EXPECT_NE(abc, bc);
}

TEST(Tokenizer, PlainByteLevelPreTokenizer) {
  TinyTokenizer t = english();
  t.j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  const Tokenizer tok = t.build();
  // add_prefix_space adds "Ġ" to the first word; digits stay together without Digits.
  EXPECT_EQ(tok.encode("the 42"), (Ids{tok.token_to_id("Ġthe").value(), ' ', '4', '2'}));
}

TEST(Tokenizer, BosPrefixFromTemplate) {
  TinyTokenizer t;
  const int32_t bos = t.add_token("<|begin_of_text|>", true);
  EXPECT_TRUE(t.build().bos_prefix().empty());
  t.j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair", nlohmann::json::array()},
      {"special_tokens",
       {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {bos}}, {"tokens", {"<|begin_of_text|>"}}}}}}};
  const Tokenizer tok = t.build();
  ASSERT_EQ(tok.bos_prefix().size(), 1u);
  EXPECT_EQ(tok.bos_prefix()[0], bos);
  EXPECT_EQ(tok.encode("a"), Ids{'a'});  // encode never adds it
  const nlohmann::json config = {{"add_bos_token", false}};
  EXPECT_TRUE(Tokenizer::from_json(t.j.dump(), "x", &config).bos_prefix().empty());
}

TEST(Tokenizer, BosPrefixFromTokenizerConfig) {
  TinyTokenizer t;
  const int32_t bos = t.add_token("<s>", true);
  const nlohmann::json config = {{"add_bos_token", true}, {"bos_token", {{"content", "<s>"}, {"special", true}}}};
  const Tokenizer tok = Tokenizer::from_json(t.j.dump(), "x", &config);
  ASSERT_EQ(tok.bos_prefix().size(), 1u);
  EXPECT_EQ(tok.bos_prefix()[0], bos);
}

// Byte-level BPE loses nothing: decode(encode(x)) is x with ill-formed UTF-8 repaired, for
// random byte strings mixing text, added tokens and junk.
TEST(Tokenizer, RandomBytesRoundTrip) {
  TinyTokenizer t = english();
  t.add_token("<image>", true);
  t.add_token("<end_of_utterance>", true);
  const Tokenizer tok = t.build();
  const std::vector<std::string> atoms = {
      "the", " hello", "<image>", "<end_of_utterance>", " ", "\n", "  ", "42", "'s", "é", "你", "👋", "<imag"};
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int round = 0; round < 500; ++round) {
    std::string text;
    const int n = int(next() % 12);
    for (int i = 0; i < n; ++i)
      text += (next() % 3 == 0) ? std::string(1, char(next() >> 24)) : atoms[next() % atoms.size()];
    const std::vector<int32_t> ids = tok.encode(text);
    ASSERT_EQ(tok.decode(ids), unicode::utf8_lossy(text)) << "round " << round;
  }
}

TEST(Tokenizer, EncodesTenThousandCharacters) {
  const Tokenizer tok = english().build();
  std::string text;
  while (text.size() < 10000) text += "the hello, 12 héllo 你好 don't\n";
  // (No time limit: a test is not a benchmark, and the sanitizer build runs at -O0.)
  const std::vector<int32_t> ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), text);
}

}  // namespace
}  // namespace smolvk
