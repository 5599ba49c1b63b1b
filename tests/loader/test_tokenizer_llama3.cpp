// Llama-3's tokenizer.json: its split regex (hand-derived pieces on a stress corpus), the Split
// pre-tokenizer's behaviours, and a tokenizer.json with Llama-3's sections end to end.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "loader/error.h"
#include "loader/tokenizer_pretok.h"
#include "tests/loader/test_tokenizer_tiny.h"

namespace smolvk {
namespace {

using namespace std::string_view_literals;
using test::ids_of;
using test::TinyTokenizer;
using Ids = std::vector<int32_t>;
using V = std::vector<std::string>;

// Llama-3's pattern as tokenizer.json holds it once JSON-decoded.
const std::string kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

V llama3(std::string_view text, size_t max_digits = 3) {
  std::vector<std::string_view> parts;
  split_llama3(text, parts, max_digits);
  return {parts.begin(), parts.end()};
}

// Meta-Llama-3's "pre_tokenizer" section, verbatim.
nlohmann::json llama3_pre_tokenizer() {
  return nlohmann::json::parse(R"({
    "type": "Sequence",
    "pretokenizers": [
      {
        "type": "Split",
        "pattern": {
          "Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
        },
        "behavior": "Isolated",
        "invert": false
      },
      {
        "type": "ByteLevel",
        "add_prefix_space": false,
        "trim_offsets": true,
        "use_regex": false
      }
    ]
  })");
}

// The words of a pre_tokenizer section on `text`.
V pre_tokenize(const nlohmann::json& spec, std::string_view text) {
  V words;
  PreTokenizer::from_json(spec, "t/tokenizer.json").run(text, words);
  return words;
}

nlohmann::json split_spec(const nlohmann::json& pattern, const char* behavior, bool invert = false) {
  return {{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}};
}

TEST(TokenizerLlama3Split, Contractions) {
  EXPECT_EQ(llama3("I'm sure you're right: it's fine, we'll see, they've gone, he'd know, don't."),
            (V{"I",    "'m", " sure", " you", "'re",   " right", ":",   " it", "'s",    " fine", ",",    " we", "'ll",
               " see", ",",  " they", "'ve",  " gone", ",",      " he", "'d",  " know", ",",     " don", "'t",  "."}));
  // Case-insensitive, unlike GPT-2's.
  EXPECT_EQ(llama3("DON'T SHOUT: IT'S LOUD, YOU'LL SEE"),
            (V{"DON", "'T", " SHOUT", ":", " IT", "'S", " LOUD", ",", " YOU", "'LL", " SEE"}));
  EXPECT_EQ(llama3("X'S Y'Ll Z'lL A'Re B'vE C'M D'D E'T F'x"),
            (V{"X", "'S", " Y", "'Ll", " Z", "'lL", " A", "'Re", " B", "'vE", " C", "'M", " D", "'D", " E", "'T", " F",
               "'x"}));
  // Only at the apostrophe: after a space it is punctuation; "'n" is no contraction but an
  // apostrophe before letters.
  EXPECT_EQ(
      llama3("'s at the start, ''s doubled, rock'n'roll, 'tis"),
      (V{"'s", " at", " the", " start", ",", " ''", "s", " doubled", ",", " rock", "'n", "'roll", ",", " '", "tis"}));
  // U+2019 is not the ASCII apostrophe: it prefixes the letters like any punctuation.
  EXPECT_EQ(llama3("curly apostrophes don\u2019t count: it\u2019s"),
            (V{"curly", " apostrophes", " don", "\u2019t", " count", ":", " it", "\u2019s"}));
  // (?i) case-folds: U+017F LATIN SMALL LETTER LONG S matches 's'.
  EXPECT_EQ(llama3("long s: x'\u017fa and '\u017f"),
            (V{"long", " s", ":", " x", "'\u017f", "a", " and", " '", "\u017f"}));
  EXPECT_EQ(llama3("'"), V{"'"});
  EXPECT_EQ(llama3("'l"), V{"'l"});
}

TEST(TokenizerLlama3Split, NumbersInGroupsOfThree) {
  EXPECT_EQ(llama3("1234567"), (V{"123", "456", "7"}));
  EXPECT_EQ(llama3("12345678901 and 1,234,567.89"),
            (V{"123", "456", "789", "01", " and", " ", "1", ",", "234", ",", "567", ".", "89"}));
  EXPECT_EQ(llama3("x1y22z333w4444v55555"), (V{"x", "1", "y", "22", "z", "333", "w", "444", "4", "v", "555", "55"}));
  // \p{N} is Nd, Nl and No: Arabic-Indic digits, fractions, roman numerals, circled digits.
  EXPECT_EQ(llama3("\u0663\u0664\u0665\u0666\u0667 Arabic-Indic digits"),
            (V{"\u0663\u0664\u0665", "\u0666\u0667", " Arabic", "-Indic", " digits"}));
  EXPECT_EQ(llama3("\u00bd\u00be \u2154 \u216b \u2460\u2461\u2462\u2463 x"),
            (V{"\u00bd\u00be", " ", "\u2154", " ", "\u216b", " ", "\u2460\u2461\u2462", "\u2463", " x"}));
  // Qwen2's pattern: the same with single digits.
  EXPECT_EQ(llama3("x1234 5", 1), (V{"x", "1", "2", "3", "4", " ", "5"}));
}

TEST(TokenizerLlama3Split, WhitespaceRuns) {
  EXPECT_EQ(llama3("a  b   c    d"), (V{"a", " ", " b", "  ", " c", "   ", " d"}));
  EXPECT_EQ(llama3("word   "), (V{"word", "   "}));
  EXPECT_EQ(llama3("   leading spaces"), (V{"  ", " leading", " spaces"}));
  EXPECT_EQ(llama3("       "), (V{"       "}));
  // Any white space but CR and LF may prefix the letters.
  EXPECT_EQ(llama3("\tTab\tseparated\t\tvalues\t"), (V{"\tTab", "\tseparated", "\t", "\tvalues", "\t"}));
  EXPECT_EQ(llama3("ideographic\u3000\u3000space and nbsp\u00a0here and em\u2003\u2003spaces"),
            (V{"ideographic", "\u3000", "\u3000space", " and", " nbsp", "\u00a0here", " and", " em", "\u2003",
               "\u2003spaces"}));
  EXPECT_EQ(llama3("NEL\u0085and\u2028line separator\u2029paragraph"),
            (V{"NEL", "\u0085and", "\u2028line", " separator", "\u2029paragraph"}));
  // \v and \f are \s; U+001C..U+001F are not (Python's isspace() says they are).
  EXPECT_EQ(llama3("vt\x0b"
                   "ff\x0c"
                   "end"),
            (V{"vt",
               "\x0b"
               "ff",
               "\x0c"
               "end"}));
  EXPECT_EQ(llama3("sep\x1c\x1d\x1e\x1f"
                   "end"),
            (V{"sep", "\x1c\x1d\x1e\x1f", "end"}));
  EXPECT_EQ(llama3("nul\x00"
                   "byte \x01\x02 controls"sv),
            (V{"nul", std::string("\0byte", 5), " \x01\x02", " controls"}));
  EXPECT_EQ(llama3(""), V{});
}

TEST(TokenizerLlama3Split, Newlines) {
  EXPECT_EQ(llama3("line1\nline2\n\nline3\n\n\n"), (V{"line", "1", "\n", "line", "2", "\n\n", "line", "3", "\n\n\n"}));
  EXPECT_EQ(llama3("windows\r\nline\r\n\r\nends\r\n"), (V{"windows", "\r\n", "line", "\r\n\r\n", "ends", "\r\n"}));
  // \s*[\r\n]+ ends at the last CR/LF of the run; the spaces after it go with the next word.
  EXPECT_EQ(llama3(" \n \n x"), (V{" \n \n", " x"}));
  EXPECT_EQ(llama3("\r\r\n\n\r"), (V{"\r\r\n\n\r"}));
  EXPECT_EQ(llama3("tabs\t\n\tmixed \t\n  in"), (V{"tabs", "\t\n", "\tmixed", " \t\n", " ", " in"}));
  EXPECT_EQ(llama3("end\n"), (V{"end", "\n"}));
  EXPECT_EQ(llama3("a\n\n b"), (V{"a", "\n\n", " b"}));
}

TEST(TokenizerLlama3Split, PunctuationRuns) {
  // The newlines after punctuation join it.
  EXPECT_EQ(llama3("Hello!!!\n\nNext...\r\nLast?!\n"), (V{"Hello", "!!!\n\n", "Next", "...\r\n", "Last", "?!\n"}));
  // One leading space joins punctuation; punctuation before letters joins the letters.
  EXPECT_EQ(llama3(" !? (x) ... [y]"), (V{" !?", " (", "x", ")", " ...", " [", "y", "]"}));
  EXPECT_EQ(llama3("a -- b --\n\n-- c"), (V{"a", " --", " b", " --\n\n", "--", " c"}));
  EXPECT_EQ(
      llama3("Price: $1,234.56 (approx.) -- 50% off!!!"),
      (V{"Price", ":", " $", "1", ",", "234", ".", "56", " (", "approx", ".)", " --", " ", "50", "%", " off", "!!!"}));
  EXPECT_EQ(llama3("C++ & C# == fun?"), (V{"C", "++", " &", " C", "#", " ==", " fun", "?"}));
}

TEST(TokenizerLlama3Split, ScriptsEmojiAndMarks) {
  EXPECT_EQ(llama3("你好，世界！今天天气很好。"), (V{"你好", "，世界", "！今天天气很好", "。"}));
  EXPECT_EQ(llama3("日本語のテキスト、カタカナとひらがな"), (V{"日本語のテキスト", "、カタカナとひらがな"}));
  EXPECT_EQ(llama3("한국어 문장입니다"), (V{"한국어", " 문장입니다"}));
  EXPECT_EQ(llama3("Привет, мир! Ελληνικά κείμενα."), (V{"Привет", ",", " мир", "!", " Ελληνικά", " κείμενα", "."}));
  EXPECT_EQ(llama3("مرحبا بالعالم"), (V{"مرحبا", " بالعالم"}));
  EXPECT_EQ(llama3("Xin chào Việt Nam, tiếng Việt"), (V{"Xin", " chào", " Việt", " Nam", ",", " tiếng", " Việt"}));
  // Devanagari vowel signs and virama are marks (Mc/Mn), not letters: each starts a piece.
  EXPECT_EQ(llama3("हिन्दी का वाक्य"), (V{"ह", "िन", "्द", "ी", " क", "ा", " व", "ाक", "्य"}));
  // Emoji (So, Sk), variation selectors (Mn) and ZWJ (Cf) are punctuation-like.
  EXPECT_EQ(llama3("I \u2764\ufe0f NY \U0001f44b\U0001f3fd \U0001f1eb\U0001f1f7"),
            (V{"I", " \u2764\ufe0f", " NY", " \U0001f44b\U0001f3fd", " \U0001f1eb\U0001f1f7"}));
  EXPECT_EQ(llama3("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family"),
            (V{"\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", " family"}));
  EXPECT_EQ(llama3("emoji\U0001f600in\U0001f600text"), (V{"emoji", "\U0001f600in", "\U0001f600text"}));
  // Combining marks are none of \p{L}, \p{N}, \s.
  EXPECT_EQ(llama3("cafe\u0301 nai\u0308ve"), (V{"cafe", "\u0301", " nai", "\u0308ve"}));
  EXPECT_EQ(llama3("e\u0301\u0302 two marks, \u0301 a lone mark"),
            (V{"e", "\u0301\u0302", " two", " marks", ",", " \u0301", " a", " lone", " mark"}));
  EXPECT_EQ(llama3("a\u0300\u0301\u0302b"), (V{"a", "\u0300\u0301\u0302", "b"}));
  // Ill-formed UTF-8 bytes count as punctuation.
  EXPECT_EQ(llama3("a\xff\xfe b\xc3 \xe2\x82x"), (V{"a", "\xff\xfe", " b", "\xc3", " \xe2\x82", "x"}));
}

TEST(TokenizerLlama3Split, EnglishAndCode) {
  EXPECT_EQ(llama3("Hello, world! How are you today?"),
            (V{"Hello", ",", " world", "!", " How", " are", " you", " today", "?"}));
  EXPECT_EQ(
      llama3("    def f(x):\n        return x ** 2  # square\n"),
      (V{"   ", " def", " f", "(x", "):\n", "       ", " return", " x", " **", " ", "2", " ", " #", " square", "\n"}));
  EXPECT_EQ(llama3("for (int i = 0; i < 10; ++i) {\n\tsum += a[i];\n}"),
            (V{"for", " (",  "int", " i", " =",   " ",     "0",   ";",  " i", " <",   " ", "10",
               ";",   " ++", "i",   ")",  " {\n", "\tsum", " +=", " a", "[i", "];\n", "}"}));
  EXPECT_EQ(llama3("#include <stdio.h>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n"),
            (V{"#include", " <", "stdio", ".h", ">\n", "#define", " MAX", "(a", ",", " b", ")",  " ((", "a",
               ")",        " >", " (",    "b",  ")",   " ?",      " (",   "a",  ")", " :", " (", "b",   "))\n"}));
  EXPECT_EQ(llama3("https://example.com/path?q=1&r=2#frag"),
            (V{"https", "://", "example", ".com", "/path", "?q", "=", "1", "&r", "=", "2", "#frag"}));
  EXPECT_EQ(llama3("snake_case_name and camelCaseName and SCREAMING_CASE"),
            (V{"snake", "_case", "_name", " and", " camelCaseName", " and", " SCREAMING", "_CASE"}));
  EXPECT_EQ(llama3("email@example.com, user.name+tag@sub.domain.org"),
            (V{"email", "@example", ".com", ",", " user", ".name", "+tag", "@sub", ".domain", ".org"}));
  EXPECT_EQ(llama3("<|begin_of_text|>Hello<|eot_id|>"),
            (V{"<|", "begin", "_of", "_text", "|>", "Hello", "<|", "eot", "_id", "|>"}));
}

// Pieces always cover the input exactly, whatever the bytes.
TEST(TokenizerLlama3Split, PiecesCoverRandomBytes) {
  const std::vector<std::string> atoms = {"a",      "Z",      "'",      "'s", "'LL",    " ",      "  ",
                                          "\t",     "\r",     "\n",     "1",  "\u0663", "\u00bd", "!",
                                          "\u0301", "\u3000", "\u017f", "你", "👋",      "\xff",   "\xe2\x82"};
  uint32_t state = 7;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int n = int(next() % 16);
    for (int i = 0; i < n; ++i) text += atoms[(next() >> 8) % atoms.size()];
    std::string joined;
    for (const std::string& p : llama3(text)) {
      ASSERT_FALSE(p.empty()) << round;
      joined += p;
    }
    ASSERT_EQ(joined, text) << round;
  }
}

TEST(TokenizerSplitBehavior, LiteralPatternEveryBehavior) {
  // HF's documented example: "the-final--countdown" split on "-".
  const nlohmann::json dash = {{"String", "-"}};
  const std::string text = "the-final--countdown";
  EXPECT_EQ(pre_tokenize(split_spec(dash, "Removed"), text), (V{"the", "final", "countdown"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "Isolated"), text), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "MergedWithPrevious"), text), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "MergedWithNext"), text), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "Contiguous"), text), (V{"the", "-", "final", "--", "countdown"}));
  // invert: the text between the matches is the "delimiter".
  EXPECT_EQ(pre_tokenize(split_spec(dash, "Removed", true), text), (V{"-", "-", "-"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "Isolated", true), text), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "MergedWithPrevious", true), text), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "MergedWithNext", true), text), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "Contiguous", true), text), (V{"the", "-", "final", "--", "countdown"}));
  // Matches at both ends, a multi-byte literal, non-overlapping leftmost matches.
  EXPECT_EQ(pre_tokenize(split_spec(dash, "MergedWithPrevious"), "-a-"), (V{"-", "a-"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "MergedWithNext"), "-a-"), (V{"-a", "-"}));
  EXPECT_EQ(pre_tokenize(split_spec({{"String", "\u3001"}}, "Removed"), "a\u3001b\u3001"), (V{"a", "b"}));
  EXPECT_EQ(pre_tokenize(split_spec({{"String", "aa"}}, "Isolated"), "aaaaa"), (V{"aa", "aa", "a"}));
  EXPECT_EQ(pre_tokenize(split_spec(dash, "Isolated"), ""), V{});
}

TEST(TokenizerSplitBehavior, RegexPatterns) {
  const nlohmann::json re = {{"Regex", kLlama3Regex}};
  // The regex's matches cover the text: each behaviour but Removed and Contiguous isolates them.
  const std::string text = "Hi  there, 12345!";
  const V pieces{"Hi", " ", " there", ",", " ", "123", "45", "!"};
  EXPECT_EQ(pre_tokenize(split_spec(re, "Isolated"), text), pieces);
  EXPECT_EQ(pre_tokenize(split_spec(re, "MergedWithPrevious"), text), pieces);
  EXPECT_EQ(pre_tokenize(split_spec(re, "MergedWithNext"), text), pieces);
  EXPECT_EQ(pre_tokenize(split_spec(re, "Isolated", true), text), pieces);
  EXPECT_EQ(pre_tokenize(split_spec(re, "Removed"), text), V{});
  EXPECT_EQ(pre_tokenize(split_spec(re, "Contiguous"), text), V{text});
  // GPT-2's and Qwen2's patterns, as Split regexes.
  EXPECT_EQ(pre_tokenize(split_spec({{"Regex", kGpt2Regex}}, "Isolated"), "IT'S 12345  x"),
            (V{"IT", "'", "S", " 12345", " ", " x"}));
  EXPECT_EQ(pre_tokenize(split_spec({{"Regex", kQwen2Regex}}, "Isolated"), "IT'S 123"),
            (V{"IT", "'S", " ", "1", "2", "3"}));
}

TEST(TokenizerSplitBehavior, Llama3PreTokenizerMapsBytes) {
  // Split, then ByteLevel without regex or prefix space: the pieces, byte-mapped.
  EXPECT_EQ(pre_tokenize(llama3_pre_tokenizer(), "Hello world\n\n 1234"),
            (V{"Hello", "Ġworld", "ĊĊ", "Ġ", "123", "4"}));
  EXPECT_EQ(pre_tokenize(llama3_pre_tokenizer(), "日本"), (V{"æĹ¥æľ¬"}));
}

TEST(TokenizerSplitBehavior, UnsupportedPatternsAreLoadErrors) {
  auto error_of = [](const nlohmann::json& spec) {
    try {
      PreTokenizer::from_json(spec, "some/dir/tokenizer.json");
    } catch (const LoadError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string other = R"(\p{L}+|\s+)";
  const std::string msg = error_of(
      {{"type", "Sequence"}, {"pretokenizers", nlohmann::json::array({split_spec({{"Regex", other}}, "Isolated")})}});
  EXPECT_NE(msg.find("some/dir/tokenizer.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pre_tokenizer Split pattern"), std::string::npos) << msg;
  EXPECT_NE(msg.find(R"({"Regex":"\\p{L}+|\\s+"})"), std::string::npos) << msg;  // the pattern as in the file
  EXPECT_NE(msg.find("Llama-3's"), std::string::npos) << msg;                    // what is supported
  EXPECT_NE(msg.find("GPT-2's"), std::string::npos) << msg;
  // A near miss of Llama-3's pattern is not taken for it.
  EXPECT_NE(error_of(split_spec({{"Regex", kLlama3Regex + "|x"}}, "Isolated")).find("not supported"),
            std::string::npos);
  EXPECT_NE(error_of(split_spec({{"String", ""}}, "Isolated")).find("not supported"), std::string::npos);
  EXPECT_NE(error_of(split_spec({{"Pattern", "x"}}, "Isolated")).find("\"pattern\""), std::string::npos);
  EXPECT_NE(error_of(split_spec({{"String", "x"}}, "isolated")).find("\"behavior\""), std::string::npos);
  EXPECT_NE(error_of({{"type", "Split"}, {"pattern", {{"String", "x"}}}, {"behavior", "Removed"}, {"invert", 1}})
                .find("\"invert\""),
            std::string::npos);
}

// A tokenizer.json with every Llama-3 section (pre_tokenizer, post_processor, decoder, model flags)
// around a tiny vocab.
TinyTokenizer llama3_style(int32_t* bos) {
  TinyTokenizer t;
  t.j["pre_tokenizer"] = llama3_pre_tokenizer();
  t.merge("Ġ", "w");
  t.merge("o", "r");
  t.merge("Ġw", "or");
  t.merge("1", "2");
  t.merge("12", "3");
  t.merge("Ċ", "Ċ");
  t.j["model"]["ignore_merges"] = true;
  t.j["model"]["vocab"]["Ġworld"] = 400;  // no merge makes it: only ignore_merges does
  t.next_id = 401;
  *bos = t.add_token("<|begin_of_text|>", true);
  t.add_token("<|end_of_text|>", true);
  t.add_token("<|eot_id|>", true);
  t.j["post_processor"] = nlohmann::json::parse(R"({
    "type": "Sequence",
    "processors": [
      {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
      {
        "type": "TemplateProcessing",
        "single": [
          {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
          {"Sequence": {"id": "A", "type_id": 0}}
        ],
        "pair": [
          {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
          {"Sequence": {"id": "A", "type_id": 0}},
          {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
          {"Sequence": {"id": "B", "type_id": 1}}
        ],
        "special_tokens": {
          "<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [0], "tokens": ["<|begin_of_text|>"]}
        }
      }
    ]
  })");
  t.j["post_processor"]["processors"][1]["special_tokens"]["<|begin_of_text|>"]["ids"][0] = *bos;
  t.j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  return t;
}

TEST(TokenizerLlama3, EncodeDecodeWithLlama3Sections) {
  int32_t bos = -1;
  const Tokenizer tok = llama3_style(&bos).build();
  ASSERT_EQ(tok.bos_prefix().size(), 1u);
  EXPECT_EQ(tok.bos_prefix()[0], bos);
  // " world" is one vocab token (ignore_merges); " worlds" is merged: "Ġwor" "l" "d" "s".
  EXPECT_EQ(tok.encode("Hello world"), (Ids{'H', 'e', 'l', 'l', 'o', 400}));
  EXPECT_EQ(tok.encode(" worlds"), (Ids{tok.token_to_id("Ġwor").value(), 'l', 'd', 's'}));
  // Digits in threes, each group merged on its own; the newline run is one word.
  EXPECT_EQ(tok.encode("1231234\n\n"),
            (Ids{tok.token_to_id("123").value(), tok.token_to_id("123").value(), '4', tok.token_to_id("ĊĊ").value()}));
  const std::string text = "<|begin_of_text|>It'S 1234567 naïve 你好 👋🏽<|eot_id|>\r\n  end  ";
  const Ids ids = tok.encode(text);
  EXPECT_EQ(ids.front(), bos);
  EXPECT_EQ(ids.back(), int32_t(' '));  // "  " at the end is one word: its two bytes, unmerged
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), "It'S 1234567 naïve 你好 👋🏽\r\n  end  ");
}

}  // namespace
}  // namespace smolvk
