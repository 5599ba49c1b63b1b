// GPT-2 split regex, Digits split and the Unicode class tables behind them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loader/tokenizer_pretok.h"
#include "loader/unicode.h"

namespace smolvk {
namespace {

std::vector<std::string> gpt2(std::string_view text) {
  std::vector<std::string_view> parts;
  split_gpt2(text, parts);
  return {parts.begin(), parts.end()};
}

std::vector<std::string> digits(std::string_view text, bool individual) {
  std::vector<std::string_view> parts;
  split_digits(text, individual, parts);
  return {parts.begin(), parts.end()};
}

using V = std::vector<std::string>;

TEST(TokenizerSplit, WordsAndPunctuation) {
  EXPECT_EQ(gpt2("Hello my friend, how is your day going?"),
            (V{"Hello", " my", " friend", ",", " how", " is", " your", " day", " going", "?"}));
}

TEST(TokenizerSplit, WhitespaceRuns) {
  EXPECT_EQ(gpt2("Hello there       dear"), (V{"Hello", " there", "      ", " dear"}));
  EXPECT_EQ(gpt2("Hello there\nHello there"), (V{"Hello", " there", "\n", "Hello", " there"}));
  EXPECT_EQ(gpt2("a\n\n b"), (V{"a", "\n\n", " b"}));
  EXPECT_EQ(gpt2("a\tb"), (V{"a", "\t", "b"}));
  EXPECT_EQ(gpt2("end   "), (V{"end", "   "}));
  EXPECT_EQ(gpt2("  "), (V{"  "}));
  EXPECT_EQ(gpt2(" !?  1"), (V{" !?", " ", " 1"}));
  // U+3000 ideographic space is \s; U+001C is not (it is punctuation-like "other").
  EXPECT_EQ(gpt2("a\u3000\u3000b"), (V{"a", "\u3000", "\u3000", "b"}));
  EXPECT_EQ(gpt2("a\x1c"), (V{"a", "\x1c"}));
}

TEST(TokenizerSplit, Contractions) {
  EXPECT_EQ(gpt2("I'm don't we'll they're you've he'd it's"),
            (V{"I", "'m", " don", "'t", " we", "'ll", " they", "'re", " you", "'ve", " he", "'d", " it", "'s"}));
  // Case-sensitive, and only after nothing: a leading space makes it punctuation.
  EXPECT_EQ(gpt2("IT'S 's"), (V{"IT", "'", "S", " '", "s"}));
  EXPECT_EQ(gpt2("!!'s"), (V{"!!'", "s"}));
}

TEST(TokenizerSplit, NumbersLettersAndSymbols) {
  EXPECT_EQ(gpt2("abc123def 45"), (V{"abc", "123", "def", " 45"}));
  EXPECT_EQ(gpt2("x=½+٣"), (V{"x", "=", "½", "+", "٣"}));
}

TEST(TokenizerSplit, CjkAndEmoji) {
  EXPECT_EQ(gpt2("你好，世界 👋🏽ok"), (V{"你好", "，", "世界", " 👋🏽", "ok"}));
}

TEST(TokenizerSplit, IllFormedUtf8IsPunctuation) {
  EXPECT_EQ(gpt2("a\xff\xfe b\xc3"), (V{"a", "\xff\xfe", " b", "\xc3"}));
}

TEST(TokenizerSplit, Digits) {
  EXPECT_EQ(digits("Hey 123 friend!", true), (V{"Hey ", "1", "2", "3", " friend!"}));
  EXPECT_EQ(digits("Hey 123 friend!", false), (V{"Hey ", "123", " friend!"}));
  EXPECT_EQ(digits("٣٤x", true), (V{"٣", "٤", "x"}));
  EXPECT_EQ(digits("", true), V{});
}

TEST(TokenizerUnicode, ClassTables) {
  using namespace unicode;
  EXPECT_TRUE(is_letter('a') && is_letter(U'\u4F60') && is_letter(U'\u00B5'));
  EXPECT_FALSE(is_letter('1') || is_letter(' ') || is_letter(U'\u0301'));
  EXPECT_TRUE(is_number('7') && is_number(U'\u0663') && is_number(U'\u00BD') && is_number(U'\u2167'));
  EXPECT_FALSE(is_number('a'));
  EXPECT_TRUE(is_white_space(U'\u3000') && is_white_space(U'\u0085') && is_white_space('\v'));
  EXPECT_FALSE(is_white_space(U'\u001C') || is_white_space(U'\u200B'));
  EXPECT_TRUE(is_word_char(U'\u0330') && is_word_char('_') && is_word_char(U'\u24B6'));
  EXPECT_FALSE(is_word_char('-') || is_word_char(U'\u25CC'));
}

TEST(TokenizerUnicode, LossyAndStablePrefix) {
  using namespace unicode;
  // Maximal subparts: E2 82 (truncated euro sign) is one U+FFFD, each lone byte is one.
  EXPECT_EQ(utf8_lossy("a\xE2\x82z\xFF\xC0\xAF"), "a\uFFFDz\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");  // surrogate
  EXPECT_EQ(stable_utf8_prefix("ab\xE2\x82"), 2u);
  EXPECT_EQ(stable_utf8_prefix("ab\xE2\x82\xAC"), 5u);
  EXPECT_EQ(stable_utf8_prefix("ab\xFF"), 3u);
  EXPECT_EQ(stable_utf8_prefix("\xF0\x9F\x91"), 0u);
}

}  // namespace
}  // namespace smolvk
