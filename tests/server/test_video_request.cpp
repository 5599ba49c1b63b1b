// The `video_url` content part (vLLM's shape): the parser on its own, then smolvk-serve end to
// end on a SmolVLM2-shaped checkpoint (tests/video_model.h) against `smolvk run --video`.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "apps/server/request.h"
#include "loader/video.h"
#include "tests/server/serve_util.h"
#include "tests/test_util.h"
#include "tests/video_model.h"

namespace smolvk::test {
namespace {

const fs::path kVideo = data_dir() / "video" / "moving_64x48_10fps.mp4";

std::string video_data_url() { return "data:video/mp4;base64," + base64(read_file(kVideo)); }

json video_then_text(const std::string& url, const std::string& text, int max_tokens) {
  return {{"messages",
           {{{"role", "user"},
             {"content",
              {{{"type", "video_url"}, {"video_url", {{"url", url}}}}, {{"type", "text"}, {"text", text}}}}}}},
          {"max_tokens", max_tokens}};
}

serve::ParseLimits video_limits() {
  serve::ParseLimits l;
  const auto config = VideoProcessorConfig::load(data_dir() / "video" / "processor");
  if (config) l.video_sampler = frame_sampler(*config);
  return l;
}

serve::ApiError error_of(const std::string& body, const serve::ParseLimits& limits) {
  try {
    serve::parse_chat_request(body, limits);
  } catch (const serve::RequestError& e) {
    return e.error();
  }
  ADD_FAILURE() << "accepted: " << body.substr(0, 300);
  return {};
}

TEST(ServerVideo, VideoUrlPartsAreDecodedAndSampled) {
  const serve::ParseLimits limits = video_limits();
  const serve::ChatRequest r = parse_chat_request(video_then_text(video_data_url(), "Hi", 4).dump(), limits);
  ASSERT_EQ(r.videos.size(), 1u);
  EXPECT_TRUE(r.images.empty());
  EXPECT_EQ(r.videos[0].metadata.frame_indices, (std::vector<int64_t>{0, 11, 22, 34}));
  EXPECT_EQ(r.videos[0].frames.size(), 4u);
  EXPECT_EQ(r.videos[0].source, "messages[0].content[0].video_url.url");
  ASSERT_EQ(r.messages[0].content.size(), 2u);
  EXPECT_EQ(r.messages[0].content[0].kind, ChatItem::Video);
  // The URL as the part's value (as some clients send it) works too.
  json plain = video_then_text("", "Hi", 4);
  plain["messages"][0]["content"][0]["video_url"] = video_data_url();
  EXPECT_EQ(parse_chat_request(plain.dump(), limits).videos.size(), 1u);
}

TEST(ServerVideo, BadVideoPartsAreRefusedByParameter) {
  const serve::ParseLimits limits = video_limits();
  const std::string param = "messages[0].content[0].video_url.url";
  const auto e = [&](const json& body, const serve::ParseLimits& l) { return error_of(body.dump(), l); };
  // No video processor (the demo checkpoint's case): refused, saying why.
  serve::ParseLimits none;
  none.video_refusal = "this server's model takes no video: because";
  serve::ApiError a = e(video_then_text(video_data_url(), "Hi", 4), none);
  EXPECT_EQ(a.code, "video_not_supported");
  EXPECT_EQ(a.param, param);
  EXPECT_NE(a.message.find("because"), std::string::npos);
  a = e(video_then_text("data:video/mp4;base64,@@", "Hi", 4), limits);
  EXPECT_EQ(a.code, "invalid_video_url");
  a = e(video_then_text("data:video/mp4," + read_file(kVideo).substr(0, 10), "Hi", 4), limits);
  EXPECT_EQ(a.code, "invalid_video_url");
  a = e(video_then_text("data:video/mp4;base64," + base64("this is not a video at all, only text"), "Hi", 4), limits);
  EXPECT_EQ(a.code, "invalid_video");
  EXPECT_EQ(a.param, param);
  EXPECT_NE(a.message.find("expected a video"), std::string::npos) << a.message;
  a = e(video_then_text("clip.mp4", "Hi", 4), limits);  // no --image-root
  EXPECT_EQ(a.code, "invalid_video_url");
  serve::ParseLimits small = limits;
  small.max_image_pixels = 1000;  // a 64x48 frame is 3072 pixels
  a = e(video_then_text(video_data_url(), "Hi", 4), small);
  EXPECT_EQ(a.code, "invalid_video");
  EXPECT_NE(a.message.find("over the limit"), std::string::npos) << a.message;
  // Two videos; a video with an image.
  json two = video_then_text(video_data_url(), "Hi", 4);
  two["messages"][0]["content"].push_back(two["messages"][0]["content"][0]);
  a = e(two, limits);
  EXPECT_EQ(a.code, "too_many_videos");
  EXPECT_EQ(a.param, "messages[0].content[2].video_url.url");
  json mixed = video_then_text(video_data_url(), "Hi", 4);
  mixed["messages"][0]["content"].push_back(
      {{"type", "image_url"},
       {"image_url", {{"url", "data:image/png;base64," + base64(read_file(data_dir() / "images" / "tiny_20x12.png"))}}}});
  a = e(mixed, limits);
  EXPECT_EQ(a.code, "images_and_videos");
  EXPECT_EQ(a.param, "messages[0].content");
  json nourl = video_then_text("x", "Hi", 4);
  nourl["messages"][0]["content"][0]["video_url"] = json::object();
  EXPECT_EQ(e(nourl, limits).code, "missing_required_parameter");
}

TEST(ServerVideo, SameTokensAsCliRunAndFilesUnderTheImageRoot) {
  const fs::path model = video_model_dir();
  const fs::path root = fs::temp_directory_path() / ("smolvk_video_root_" + std::to_string(::getpid()));
  fs::create_directories(root);
  fs::copy_file(kVideo, root / "clip.mp4", fs::copy_options::overwrite_existing);
  {
    ServerProcess s({"--model", model.string(), "--image-root", root.string()});
    const json cli = run_cli_json("--model " + model.string() + " --video " + kVideo.string() +
                                  " --prompt 'What happens?' --max-new-tokens 5 --ignore-eos");
    json body = video_then_text(video_data_url(), "What happens?", 5);
    body["ignore_eos"] = true;
    const auto [status, whole] = chat(s, body);
    ASSERT_EQ(status, 200) << whole.dump();
    EXPECT_EQ(whole["smolvk"]["token_ids"].get<std::vector<int32_t>>(), cli["output_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(whole["usage"]["prompt_tokens"], cli["input_ids"].size());
    body["messages"][0]["content"][0]["video_url"]["url"] = "clip.mp4";
    const auto [s2, by_path] = chat(s, body);
    ASSERT_EQ(s2, 200) << by_path.dump();
    EXPECT_EQ(by_path["smolvk"]["token_ids"], whole["smolvk"]["token_ids"]);
    body["messages"][0]["content"][0]["video_url"]["url"] = "/etc/passwd";
    const auto [s3, outside] = chat(s, body);
    EXPECT_EQ(s3, 400);
    EXPECT_EQ(outside["error"]["param"], "messages[0].content[0].video_url.url");
  }
  {
    // The demo checkpoint has no usable video processor: a 400 that says why.
    ServerProcess s({});
    const auto [status, r] = chat(s, video_then_text(video_data_url(), "Hi", 2));
    EXPECT_EQ(status, 400) << r.dump();
    EXPECT_EQ(r["error"]["code"], "video_not_supported");
    EXPECT_NE(r["error"]["message"].get<std::string>().find("364x364"), std::string::npos) << r.dump();
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace smolvk::test
