// Tokenizer decode, skip_special and StreamDecoder.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/loader/test_tokenizer_tiny.h"

namespace smolvk {
namespace {

using test::byte_ids;
using test::TinyTokenizer;
using Ids = std::vector<int32_t>;

std::string stream_all(const Tokenizer& tok, const Ids& ids, std::vector<std::string>* steps,
                       bool skip_special = false) {
  StreamDecoder stream(tok, skip_special);
  std::string out;
  for (int32_t id : ids) {
    std::string piece = stream.feed(id);
    if (steps) steps->push_back(piece);
    out += piece;
  }
  return out + stream.flush();
}

TEST(TokenizerDecode, ByteLevelRoundTripAndSpecialTokens) {
  TinyTokenizer t;
  t.merge("Ġ", "t");
  const int32_t image = t.add_token("<image>", true);
  const int32_t plain = t.add_token("<note>", false);
  const int32_t spaced = t.add_token("two words\n", false);  // not byte-level: kept as is
  const Tokenizer tok = t.build();
  const Ids ids = tok.encode("User:<image> t<note>two words\n");
  EXPECT_EQ(ids, (Ids{'U', 's', 'e', 'r', ':', image, 256, plain, spaced}));
  EXPECT_EQ(tok.decode(ids), "User:<image> t<note>two words\n");
  EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), "User: t<note>two words\n");
  // Unknown ids are dropped, as HF does.
  EXPECT_EQ(tok.decode(Ids{'a', 99999, -5, 'b'}), "ab");
  EXPECT_THROW(tok.id_to_token(99999), std::out_of_range);
}

TEST(TokenizerDecode, IncompleteUtf8BecomesReplacementChar) {
  const Tokenizer tok = TinyTokenizer().build();
  EXPECT_EQ(tok.decode(byte_ids("\xE4\xBD")), "\uFFFD");
  EXPECT_EQ(tok.decode(byte_ids("\xE4\xBD\xA0")), "你");
}

TEST(TokenizerStream, MultiByteCharSplitAcrossTokens) {
  const Tokenizer tok = TinyTokenizer().build();
  std::vector<std::string> steps;
  // "é" = C3 A9, "€" = E2 82 AC, "👋" = F0 9F 91 8B, one byte token each.
  const std::string text = "é€x👋";
  EXPECT_EQ(stream_all(tok, byte_ids(text), &steps), text);
  EXPECT_EQ(steps, (std::vector<std::string>{"", "é", "", "", "€", "x", "", "", "", "👋"}));
}

TEST(TokenizerStream, MatchesDecodeOnMixedSequences) {
  TinyTokenizer t;
  t.merge("Ã", "©");  // "é" as one token
  const int32_t eou = t.add_token("<end_of_utterance>", true);
  const Tokenizer tok = t.build();
  Ids ids = tok.encode("café <end_of_utterance>");
  EXPECT_EQ(ids, (Ids{'c', 'a', 'f', 256, ' ', eou}));
  for (bool skip : {false, true}) {
    std::vector<std::string> steps;
    EXPECT_EQ(stream_all(tok, ids, &steps, skip), tok.decode(ids, skip));
    EXPECT_EQ(steps[3], "é");
  }
  // A dangling lead byte is held back, then flushed as U+FFFD; bad bytes come out at once.
  StreamDecoder stream(tok);
  EXPECT_EQ(stream.feed(0xE2), "");
  EXPECT_EQ(stream.feed(0xFF), "\uFFFD\uFFFD");
  EXPECT_EQ(stream.feed(0xF0), "");
  EXPECT_EQ(stream.flush(), "\uFFFD");
  EXPECT_EQ(stream.flush(), "");
}

TEST(TokenizerDecode, NoDecoderJoinsWithSpaces) {
  TinyTokenizer t;
  t.j["decoder"] = nullptr;
  const int32_t image = t.add_token("<image>", true);
  const Tokenizer tok = t.build();
  const Ids ids{'a', image, 'b'};
  EXPECT_EQ(tok.decode(ids), "a <image> b");
  EXPECT_EQ(tok.decode(ids, true), "a b");
  EXPECT_EQ(stream_all(tok, ids, nullptr), "a <image> b");
}

}  // namespace
}  // namespace smolvk
