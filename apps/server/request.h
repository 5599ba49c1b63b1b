#pragma once
// POST /v1/chat/completions: the JSON body → a validated request, or an OpenAI-style error that
// names the offending parameter. No model, no Vulkan: the limits that need the model (context
// length) come in ParseLimits, so this is unit-tested and fuzzed on its own
// (tests/server/test_request.cpp, tests/fuzz/fuzz_server_request.cpp).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/image.h"
#include "loader/prompt.h"
#include "loader/video_preprocess.h"

namespace smolvk::serve {

// {"error": {"message", "type", "param", "code"}} with its HTTP status.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // "" = null
  std::string code;   // "" = null
  std::string to_json() const;
};

// Thrown by the parser (and the server's later checks); carries the answer to send.
class RequestError : public std::exception {
 public:
  explicit RequestError(ApiError e) : error_(std::move(e)) {}
  RequestError(std::string param, std::string code, std::string message, int status = 400);
  const char* what() const noexcept override { return error_.message.c_str(); }
  const ApiError& error() const { return error_; }

 private:
  ApiError error_;
};

struct ParseLimits {
  size_t max_images = 8;                   // image parts per request
  int64_t max_image_pixels = 4096 * 4096;  // width × height, checked from the header before decoding
  int64_t context_length = 8192;           // max_tokens must be below it
  int max_stop_strings = 4;
  size_t max_stop_bytes = 256;
  // Where `image_url` (and `video_url`) may name local files (a path or a file:// URL inside
  // it); empty: data: URLs only.
  std::filesystem::path image_root;
  // `video_url` parts (vLLM's shape: {"type": "video_url", "video_url": {"url": ...}}): which
  // frames to decode (the model's video processor: frame_sampler(Model::video_processor())).
  // Empty: video parts are refused, `video_refusal` saying why. Every frame is held to
  // max_image_pixels, and at most max_videos videos come in one request (without images:
  // transformers' processor would keep only the videos' pixel values).
  FrameSampler video_sampler;
  std::string video_refusal = "this server's model takes no video";
  size_t max_videos = 1;
};

struct ChatRequest {
  std::string model;                  // as the client named it ("" if absent)
  std::vector<ChatMessage> messages;  // roles system / user / assistant
  std::vector<Image> images;          // one per image item of `messages`, in order
  std::vector<Video> videos;          // one per video item of `messages`, in order (decoded, sampled)
  std::optional<int> max_tokens;      // max_completion_tokens, else max_tokens
  float temperature = 0.0f;           // 0 = greedy (the default here; OpenAI's is 1)
  float top_p = 1.0f;
  int top_k = 0;  // extension (llama.cpp, vLLM): 0 = off
  uint64_t seed = 0;
  std::vector<std::string> stop;  // text that ends the answer (cut from it)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool ignore_eos = false;     // extension (llama.cpp, vLLM): run max_tokens
};

// Throws RequestError for malformed JSON, a wrong type or value, an unknown role, too many or
// undecodable images or videos, images and videos together, a URL that is not allowed, or
// max_tokens not below the context.
ChatRequest parse_chat_request(std::string_view body, const ParseLimits& limits);

// An image_url's url: a data: URL (base64), or with limits.image_root a path or file:// URL
// inside that folder. `param` names the field in errors.
Image load_image_url(const std::string& url, const ParseLimits& limits, const std::string& param);

// A video_url's url, as load_image_url takes it; decoded with limits.video_sampler (which must
// be set) and each frame held to limits.max_image_pixels.
Video load_video_url(const std::string& url, const ParseLimits& limits, const std::string& param);

// RFC 4648 base64 (padding optional, no whitespace); nullopt if the text is not base64.
std::optional<std::vector<uint8_t>> decode_base64(std::string_view text);

}  // namespace smolvk::serve
