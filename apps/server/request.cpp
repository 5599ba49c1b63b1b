#include "apps/server/request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "loader/config_json.h"
#include "loader/error.h"

namespace smolvk::serve {

using nlohmann::json;

std::string ApiError::to_json() const {
  json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return json{{"error", e}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

RequestError::RequestError(std::string param, std::string code, std::string message, int status)
    : error_{status, std::move(message), "invalid_request_error", std::move(param), std::move(code)} {}

namespace {

[[noreturn]] void invalid(const std::string& param, const std::string& what, const char* code = "invalid_value") {
  throw RequestError(param, code, "'" + param + "': " + what);
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::number_float:
      return "a number";
    default:
      return "an integer";
  }
}

[[noreturn]] void wrong_type(const std::string& param, const json& v, const char* expected) {
  invalid(param, std::string("expected ") + expected + ", got " + type_name(v), "invalid_type");
}

// obj[key], or nullptr when absent or null (OpenAI clients send null for "not set").
const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string get_string(const json& v, const std::string& param) {
  if (!v.is_string()) wrong_type(param, v, "a string");
  return v.get<std::string>();
}

bool get_bool(const json& v, const std::string& param) {
  if (!v.is_boolean()) wrong_type(param, v, "a boolean");
  return v.get<bool>();
}

int64_t get_int(const json& v, const std::string& param) {
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)) invalid(param, "is out of range");
  if (v.is_number_integer()) return v.get<int64_t>();
  // 3.0 is an integer to Python clients too.
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return int64_t(d);
  }
  wrong_type(param, v, "an integer");
}

double get_number(const json& v, const std::string& param) {
  if (!v.is_number()) wrong_type(param, v, "a number");
  const double d = v.get<double>();
  if (!std::isfinite(d)) invalid(param, "must be finite");
  return d;
}

std::vector<ChatItem> parse_content(const json& content, const std::string& param, const ParseLimits& limits,
                                    ChatRequest& out) {
  if (content.is_string()) return {{ChatItem::Text, content.get<std::string>()}};
  if (!content.is_array()) wrong_type(param, content, "a string or an array of content parts");
  if (content.empty()) invalid(param, "must not be empty");
  std::vector<ChatItem> items;
  for (size_t j = 0; j < content.size(); ++j) {
    const std::string p = param + "[" + std::to_string(j) + "]";
    const json& part = content[j];
    if (!part.is_object()) wrong_type(p, part, "an object");
    const json* type = field(part, "type");
    if (!type)
      invalid(p + ".type", "is required (\"text\", \"image_url\" or \"video_url\")", "missing_required_parameter");
    const std::string t = get_string(*type, p + ".type");
    if (t == "text") {
      const json* text = field(part, "text");
      if (!text) invalid(p + ".text", "is required for a text part", "missing_required_parameter");
      items.push_back({ChatItem::Text, get_string(*text, p + ".text")});
    } else if (t == "image_url") {
      const json* iu = field(part, "image_url");
      if (!iu) invalid(p + ".image_url", "is required for an image_url part", "missing_required_parameter");
      std::string url_param = p + ".image_url";
      const json* url = iu;  // {"url": ...}, or the URL itself as some clients send it
      if (iu->is_object()) {
        url_param += ".url";
        url = field(*iu, "url");
        if (!url) invalid(url_param, "is required", "missing_required_parameter");
      }
      if (out.images.size() >= limits.max_images)
        invalid(url_param, "too many images: at most " + std::to_string(limits.max_images) + " per request",
                "too_many_images");
      out.images.push_back(load_image_url(get_string(*url, url_param), limits, url_param));
      items.push_back({ChatItem::Image, {}});
    } else if (t == "video_url") {
      const json* vu = field(part, "video_url");
      if (!vu) invalid(p + ".video_url", "is required for a video_url part", "missing_required_parameter");
      std::string url_param = p + ".video_url";
      const json* url = vu;  // {"url": ...}, or the URL itself
      if (vu->is_object()) {
        url_param += ".url";
        url = field(*vu, "url");
        if (!url) invalid(url_param, "is required", "missing_required_parameter");
      }
      if (out.videos.size() >= limits.max_videos)
        invalid(url_param, "too many videos: at most " + std::to_string(limits.max_videos) + " per request",
                "too_many_videos");
      out.videos.push_back(load_video_url(get_string(*url, url_param), limits, url_param));
      items.push_back({ChatItem::Video, {}});
    } else {
      invalid(p + ".type",
              "unknown content part type '" + t + "' (expected \"text\", \"image_url\" or \"video_url\")");
    }
  }
  return items;
}

void parse_messages(const json& body, const ParseLimits& limits, ChatRequest& out) {
  const json* messages = field(body, "messages");
  if (!messages) invalid("messages", "is required", "missing_required_parameter");
  if (!messages->is_array()) wrong_type("messages", *messages, "an array");
  if (messages->empty()) invalid("messages", "must not be empty");
  for (size_t i = 0; i < messages->size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const json& m = (*messages)[i];
    if (!m.is_object()) wrong_type(p, m, "an object");
    const json* role = field(m, "role");
    if (!role) invalid(p + ".role", "is required", "missing_required_parameter");
    ChatMessage msg{get_string(*role, p + ".role"), {}};
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant")
      invalid(p + ".role", "unknown role '" + msg.role + "' (expected system, user or assistant)");
    const json* content = field(m, "content");
    if (!content) invalid(p + ".content", "is required", "missing_required_parameter");
    msg.content = parse_content(*content, p + ".content", limits, out);
    out.messages.push_back(std::move(msg));
    if (!out.images.empty() && !out.videos.empty())
      invalid(p + ".content",
              "a request has images or videos, not both (SmolVLM's processor would drop the images' pixels)",
              "images_and_videos");
  }
}

void parse_stop(const json& stop, const ParseLimits& limits, ChatRequest& out) {
  std::vector<std::string> list;
  if (stop.is_string()) {
    list.push_back(stop.get<std::string>());
  } else if (stop.is_array()) {
    if (stop.size() > size_t(limits.max_stop_strings))
      invalid("stop", "at most " + std::to_string(limits.max_stop_strings) + " strings");
    for (size_t i = 0; i < stop.size(); ++i) list.push_back(get_string(stop[i], "stop[" + std::to_string(i) + "]"));
  } else {
    wrong_type("stop", stop, "a string or an array of strings");
  }
  for (const auto& s : list) {
    if (s.empty()) invalid("stop", "stop strings must not be empty");
    if (s.size() > limits.max_stop_bytes)
      invalid("stop", "stop strings are at most " + std::to_string(limits.max_stop_bytes) + " bytes");
  }
  out.stop = std::move(list);
}

void parse_max_tokens(const json& body, const ParseLimits& limits, ChatRequest& out) {
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {  // the second wins
    const json* v = field(body, key);
    if (!v) continue;
    const int64_t n = get_int(*v, key);
    if (n < 1) invalid(key, "must be at least 1");
    if (n >= limits.context_length)
      invalid(key,
              std::to_string(n) + " tokens do not fit the context of " + std::to_string(limits.context_length) +
                  " tokens (prompt included)",
              "context_length_exceeded");
    out.max_tokens = int(n);
  }
}

void parse_sampling(const json& body, ChatRequest& out) {
  if (const json* v = field(body, "temperature")) {
    out.temperature = float(get_number(*v, "temperature"));
    if (out.temperature < 0 || out.temperature > 2) invalid("temperature", "must be between 0 and 2");
  }
  if (const json* v = field(body, "top_p")) {
    out.top_p = float(get_number(*v, "top_p"));
    if (!(out.top_p > 0 && out.top_p <= 1)) invalid("top_p", "must be in (0, 1]");
  }
  if (const json* v = field(body, "top_k")) {
    const int64_t k = get_int(*v, "top_k");
    if (k < 0 || k > std::numeric_limits<int>::max()) invalid("top_k", "must be ≥ 0 (0 = off)");
    out.top_k = int(k);
  }
  if (const json* v = field(body, "seed"))
    out.seed = v->is_number_unsigned() ? v->get<uint64_t>() : uint64_t(get_int(*v, "seed"));
}

// Parameters accepted only at their neutral value: anything else would be silently ignored.
void refuse_unsupported(const json& body) {
  if (const json* n = field(body, "n"); n && get_int(*n, "n") != 1) invalid("n", "only n = 1 is supported");
  for (const char* key : {"presence_penalty", "frequency_penalty"})
    if (const json* v = field(body, key); v && get_number(*v, key) != 0)
      invalid(key, "is not supported (only 0)", "unsupported_parameter");
  for (const char* key : {"logprobs", "parallel_tool_calls"})
    if (const json* v = field(body, key); v && get_bool(*v, key))
      invalid(key, "is not supported", "unsupported_parameter");
  for (const char* key : {"tools", "functions", "logit_bias", "top_logprobs"})
    if (const json* v = field(body, key); v && !v->empty()) invalid(key, "is not supported", "unsupported_parameter");
}

}  // namespace

ChatRequest parse_chat_request(std::string_view text, const ParseLimits& limits) {
  json body;
  try {
    body = parse_json_text(text, "request body");
  } catch (const LoadError& e) {
    throw RequestError("", "invalid_json", e.what());
  }
  if (!body.is_object())
    throw RequestError("", "invalid_type", std::string("request body: expected a JSON object, got ") + type_name(body));
  ChatRequest out;
  if (const json* m = field(body, "model")) out.model = get_string(*m, "model");
  refuse_unsupported(body);
  parse_max_tokens(body, limits, out);
  parse_sampling(body, out);
  if (const json* v = field(body, "stop")) parse_stop(*v, limits, out);
  if (const json* v = field(body, "stream")) out.stream = get_bool(*v, "stream");
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) wrong_type("stream_options", *so, "an object");
    if (const json* v = field(*so, "include_usage")) out.include_usage = get_bool(*v, "stream_options.include_usage");
  }
  if (const json* v = field(body, "ignore_eos")) out.ignore_eos = get_bool(*v, "ignore_eos");
  parse_messages(body, limits, out);  // last: images are decoded only for an otherwise valid request
  return out;
}

}  // namespace smolvk::serve
