// The request parser and the stop-string filter on their own (no server, no GPU).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "apps/server/request.h"
#include "apps/server/stop_text.h"

namespace smolvk::serve {
namespace {

using nlohmann::json;

ApiError error_of(const std::string& body, const ParseLimits& limits = {}) {
  try {
    parse_chat_request(body, limits);
  } catch (const RequestError& e) {
    return e.error();
  }
  ADD_FAILURE() << "accepted: " << body;
  return {};
}

TEST(ServerRequest, StringAndPartsContentInOrder) {
  const ChatRequest r = parse_chat_request(R"({
    "model": "m", "max_completion_tokens": 20, "max_tokens": 5, "temperature": 0.5, "top_p": 0.9, "top_k": 3,
    "seed": 18446744073709551615, "stop": ["\n\n", "END"], "stream": true, "stream_options": {"include_usage": true},
    "n": 1, "presence_penalty": 0, "user": "ignored", "logprobs": false,
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": [{"type": "text", "text": "Look:"}]},
                 {"role": "assistant", "content": "OK", "name": "bot"}]})",
                                           {});
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_FLOAT_EQ(r.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.top_p, 0.9f);
  EXPECT_EQ(r.top_k, 3);
  EXPECT_EQ(r.seed, UINT64_MAX);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_TRUE(r.stream && r.include_usage);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content[0].text, "Look:");
  EXPECT_EQ(r.messages[2].content[0].text, "OK");
}

TEST(ServerRequest, NullMeansAbsent) {
  const ChatRequest r = parse_chat_request(
      R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": null, "temperature": null, "stop": null})", {});
  EXPECT_FALSE(r.max_tokens);
  EXPECT_EQ(r.temperature, 0.0f);
  EXPECT_TRUE(r.stop.empty());
}

TEST(ServerRequest, ErrorsNameTheParameter) {
  EXPECT_EQ(error_of("{").code, "invalid_json");
  EXPECT_EQ(
      error_of(
          R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]}]})")
          .param,
      "messages[0].content[0].image_url.url");
  ParseLimits small;
  small.context_length = 100;
  const ApiError e = error_of(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 100})", small);
  EXPECT_EQ(e.param, "max_tokens");
  EXPECT_EQ(e.code, "context_length_exceeded");
  const json j = json::parse(e.to_json());
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(j["error"]["message"].get<std::string>().find("max_tokens") != std::string::npos);
}

TEST(ServerRequest, Base64) {
  EXPECT_EQ(decode_base64("aGVsbG8="), (std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(decode_base64("aGVsbG8"), (std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(decode_base64(""), std::vector<uint8_t>{});
  EXPECT_FALSE(decode_base64("a"));
  EXPECT_FALSE(decode_base64("aGV s"));
}

TEST(StopText, HoldsBackPrefixesAndCutsTheStop) {
  StopText s({"END", "\n\n"});
  EXPECT_EQ(s.feed("hello E"), "hello ");
  EXPECT_EQ(s.feed("N"), "");
  EXPECT_EQ(s.feed("x"), "ENx");
  EXPECT_EQ(s.feed(" more\n"), " more");
  EXPECT_EQ(s.feed("\nafter"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.feed("ignored"), "");
  EXPECT_EQ(s.flush(), "");
  StopText t({"zz"});
  EXPECT_EQ(t.feed("abz"), "ab");
  EXPECT_EQ(t.flush(), "z");
  StopText none({});
  EXPECT_EQ(none.feed("abc"), "abc");
}

}  // namespace
}  // namespace smolvk::serve
