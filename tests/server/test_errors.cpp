// Bad requests to a running smolvk-serve: each gets a 4xx with an OpenAI-style error body, and
// the server keeps serving.
#include "tests/server/serve_util.h"

namespace smolvk::test {
namespace {

const fs::path kImage = fs::path(SMOLVK_TEST_DATA) / "images" / "grey_33x21.png";

json with_content(json content) {
  return {{"messages", {{{"role", "user"}, {"content", std::move(content)}}}}, {"max_tokens", 2}};
}
json image_part(const std::string& url) { return {{"type", "image_url"}, {"image_url", {{"url", url}}}}; }
json with(const char* key, json value) {
  json b = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 2}};
  b[key] = std::move(value);
  return b;
}

struct Bad {
  std::string body;
  int status;
  std::string param;  // "" = null
};

std::vector<Bad> bad_requests() {
  const std::string png = data_url(kImage);
  std::vector<Bad> v = {
      {"", 400, ""},
      {"{", 400, ""},
      {"{\"messages\": [}", 400, ""},
      {"[]", 400, ""},
      {"42", 400, ""},
      {"\"text\"", 400, ""},
      {std::string(200, '[') + std::string(200, ']'), 400, ""},
      {"{}", 400, "messages"},
      {R"({"messages": {}})", 400, "messages"},
      {R"({"messages": []})", 400, "messages"},
      {R"({"messages": ["hi"]})", 400, "messages[0]"},
      {R"({"messages": [{"content": "hi"}]})", 400, "messages[0].role"},
      {R"({"messages": [{"role": 1, "content": "hi"}]})", 400, "messages[0].role"},
      {R"({"messages": [{"role": "robot", "content": "hi"}]})", 400, "messages[0].role"},
      {R"({"messages": [{"role": "tool", "content": "hi"}]})", 400, "messages[0].role"},
      {R"({"messages": [{"role": "user"}]})", 400, "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": 5}]})", 400, "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": []}]})", 400, "messages[0].content"},
      {with_content({"x"}).dump(), 400, "messages[0].content[0]"},
      {with_content({{{"text", "x"}}}).dump(), 400, "messages[0].content[0].type"},
      {with_content({{{"type", "audio"}}}).dump(), 400, "messages[0].content[0].type"},
      {with_content({{{"type", "text"}}}).dump(), 400, "messages[0].content[0].text"},
      {with_content({{{"type", "text"}, {"text", 3}}}).dump(), 400, "messages[0].content[0].text"},
      {with_content({{{"type", "image_url"}}}).dump(), 400, "messages[0].content[0].image_url"},
      {with_content({{{"type", "image_url"}, {"image_url", {{"detail", "low"}}}}}).dump(), 400,
       "messages[0].content[0].image_url.url"},
      {with_content({image_part("http://example.com/cat.png")}).dump(), 400, "messages[0].content[0].image_url.url"},
      {with_content({image_part("/etc/passwd")}).dump(), 400, "messages[0].content[0].image_url.url"},
      {with_content({image_part("data:image/png;base64,!!!!")}).dump(), 400, "messages[0].content[0].image_url.url"},
      {with_content({image_part("data:image/png,rawbytes")}).dump(), 400, "messages[0].content[0].image_url.url"},
      {with_content({image_part("data:image/png;base64,aGVsbG8gd29ybGQ=")}).dump(), 400,
       "messages[0].content[0].image_url.url"},
      {with_content({image_part("data:image/png;base64,")}).dump(), 400, "messages[0].content[0].image_url.url"},
      {with_content({image_part(png), image_part(png), image_part(png)}).dump(), 400,
       "messages[0].content[2].image_url.url"},  // --max-images 2
      {with("max_tokens", 0).dump(), 400, "max_tokens"},
      {with("max_tokens", -5).dump(), 400, "max_tokens"},
      {with("max_tokens", "ten").dump(), 400, "max_tokens"},
      {with("max_tokens", 1.5).dump(), 400, "max_tokens"},
      {with("max_tokens", 8192).dump(), 400, "max_tokens"},
      {with("max_completion_tokens", 100000000).dump(), 400, "max_completion_tokens"},
      {with("max_tokens", 8185).dump(), 400, "max_tokens"},  // fits alone, not after the prompt
      {with("temperature", "hot").dump(), 400, "temperature"},
      {with("temperature", -1).dump(), 400, "temperature"},
      {with("temperature", 3).dump(), 400, "temperature"},
      {with("top_p", 0).dump(), 400, "top_p"},
      {with("top_p", 1.5).dump(), 400, "top_p"},
      {with("top_k", -1).dump(), 400, "top_k"},
      {with("top_k", true).dump(), 400, "top_k"},
      {with("seed", "x").dump(), 400, "seed"},
      {with("n", 2).dump(), 400, "n"},
      {with("n", "1").dump(), 400, "n"},
      {with("stream", "yes").dump(), 400, "stream"},
      {with("stream_options", 1).dump(), 400, "stream_options"},
      {with("stop", 3).dump(), 400, "stop"},
      {with("stop", json::array({"a", 1})).dump(), 400, "stop[1]"},
      {with("stop", "").dump(), 400, "stop"},
      {with("stop", json::array({"a", "b", "c", "d", "e"})).dump(), 400, "stop"},
      {with("model", 7).dump(), 400, "model"},
      {with("logprobs", true).dump(), 400, "logprobs"},
      {with("presence_penalty", 0.5).dump(), 400, "presence_penalty"},
      {with("tools", json::array({{{"type", "function"}}})).dump(), 400, "tools"},
      {with("ignore_eos", 1).dump(), 400, "ignore_eos"},
  };
  return v;
}

TEST(ServeErrors, BadRequestsGive4xxAndTheServerKeepsServing) {
  ServerProcess s({"--max-images", "2", "--max-body-bytes", "400000"});
  const auto bad = bad_requests();
  ASSERT_GE(bad.size(), 40u);
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.body.substr(0, 200));
    auto r = s.client().Post("/v1/chat/completions", b.body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, b.status);
    const json e = parse_json(r->body);
    ASSERT_TRUE(e.contains("error")) << r->body;
    const json& err = e["error"];
    EXPECT_TRUE(err["message"].is_string() && !err["message"].get<std::string>().empty());
    EXPECT_EQ(err["type"], "invalid_request_error");
    EXPECT_TRUE(err.contains("code"));
    if (b.param.empty())
      EXPECT_TRUE(err["param"].is_null()) << r->body;
    else
      EXPECT_EQ(err["param"], b.param) << r->body;
  }
  // Over --max-body-bytes: 413; wrong method / route: 404 / 405 family; all with an error body.
  auto big = s.client().Post("/v1/chat/completions", std::string(500000, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(parse_json(big->body)["error"]["code"], "request_too_large");
  auto nowhere = s.client().Get("/v1/nowhere");
  ASSERT_TRUE(nowhere);
  EXPECT_EQ(nowhere->status, 404);
  EXPECT_TRUE(parse_json(nowhere->body).contains("error"));
  // Still serving.
  const auto [status, r] = chat(s, user_text("after all that", 2));
  EXPECT_EQ(status, 200) << r.dump();
  auto health = s.client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(ServeErrors, ImageOverThePixelLimitIsRefusedBeforeDecoding) {
  ServerProcess s({"--max-image-pixels", "100"});
  const auto [status, r] = chat(s, with_content({image_part(data_url(kImage)), {{"type", "text"}, {"text", "hi"}}}));
  EXPECT_EQ(status, 400);
  EXPECT_EQ(r["error"]["code"], "image_too_large") << r.dump();
}

}  // namespace
}  // namespace smolvk::test
