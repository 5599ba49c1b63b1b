// image_url → Image and video_url → Video: data: URLs, and files inside --image-root (never
// outside it).

#include <cctype>
#include <fstream>
#include <iterator>

#include "apps/server/request.h"
#include "loader/error.h"
#include "loader/video.h"

namespace smolvk::serve {

namespace fs = std::filesystem;

std::optional<std::vector<uint8_t>> decode_base64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(acc >> bits));
    }
  }
  return out;
}

namespace {

[[noreturn]] void refuse(const std::string& param, const std::string& code, const std::string& what) {
  throw RequestError(param, code, "'" + param + "': " + what);
}

// The header's size against the limit before any pixel is allocated, then the decode.
Image decode_checked(std::span<const uint8_t> bytes, const ParseLimits& limits, const std::string& param) {
  if (bytes.empty()) refuse(param, "invalid_image", "the image is empty");
  try {
    int w = 0, h = 0;
    if (image_size(bytes, param, w, h) && int64_t(w) * h > limits.max_image_pixels)
      refuse(param, "image_too_large",
             "the image is " + std::to_string(w) + "x" + std::to_string(h) + ", over the limit of " +
                 std::to_string(limits.max_image_pixels) + " pixels (--max-image-pixels)");
    return decode_image(bytes, param);
  } catch (const LoadError& e) {
    refuse(param, "invalid_image", std::string("cannot decode the image: ") + e.what());
  }
}

// The bytes of a base64 data: URL; `code` and `example` name the kind of URL in errors.
std::vector<uint8_t> data_url_bytes(std::string_view url, const std::string& param, const char* code,
                                    const char* example) {
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) refuse(param, code, "a data: URL needs a ',' before its data");
  const std::string_view meta = url.substr(5, comma - 5);
  if (meta.size() < 7 || meta.substr(meta.size() - 7) != ";base64")
    refuse(param, code, std::string("only base64 data: URLs are accepted (") + example + ")");
  auto bytes = decode_base64(url.substr(comma + 1));
  if (!bytes) refuse(param, code, "the data: URL's payload is not valid base64");
  return std::move(*bytes);
}

Image from_data_url(std::string_view url, const ParseLimits& limits, const std::string& param) {
  return decode_checked(data_url_bytes(url, param, "invalid_image_url", "data:image/png;base64,..."), limits, param);
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) && hex(s[i + 2])) {
      out.push_back(char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The canonical path (symlinks resolved) of a file inside the root; refused when it resolves
// outside, does not exist or is not a regular file.
fs::path resolve_inside(const fs::path& root, std::string_view url, const std::string& param,
                        const char* code = "invalid_image_url") {
  std::string path(url);
  if (url.rfind("file://", 0) == 0) {
    path = percent_decode(url.substr(7));
    if (path.empty() || path[0] != '/') refuse(param, code, "a file:// URL must name an absolute path");
  }
  if (path.empty() || path.find('\0') != std::string::npos) refuse(param, code, "not a file path");
  std::error_code ec;
  const fs::path root_c = fs::canonical(root, ec);
  if (ec)
    throw RequestError(ApiError{500, "--image-root " + root.string() + " is not readable", "server_error", param, ""});
  const fs::path p = fs::path(path).is_absolute() ? fs::path(path) : root_c / path;
  const fs::path c = fs::canonical(p, ec);
  if (ec) refuse(param, "image_not_found", "no such file under --image-root");
  const fs::path rel = c.lexically_relative(root_c);
  if (rel.empty() || *rel.begin() == "..") refuse(param, "image_outside_root", "the path is outside --image-root");
  if (!fs::is_regular_file(c, ec)) refuse(param, "image_not_found", "not a regular file");
  return c;
}

Image from_file(const fs::path& path, const ParseLimits& limits, const std::string& param) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size > kMaxImageFileBytes) refuse(param, "invalid_image", "the file cannot be read or is too large");
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_checked(bytes, limits, param);
}

}  // namespace

Image load_image_url(const std::string& url, const ParseLimits& limits, const std::string& param) {
  if (url.rfind("data:", 0) == 0) return from_data_url(url, limits, param);
  if (limits.image_root.empty())
    refuse(param, "invalid_image_url",
           "only data: URLs are accepted (start the server with --image-root DIR to allow files in DIR)");
  if (url.find("://") != std::string::npos && url.rfind("file://", 0) != 0)
    refuse(param, "invalid_image_url", "only data: URLs, file:// URLs and paths inside --image-root are accepted");
  return from_file(resolve_inside(limits.image_root, url, param), limits, param);
}

Video load_video_url(const std::string& url, const ParseLimits& limits, const std::string& param) {
  if (!limits.video_sampler) refuse(param, "video_not_supported", limits.video_refusal);
  VideoLimits vl;
  vl.max_frame_pixels = limits.max_image_pixels;
  try {
    if (url.rfind("data:", 0) == 0) {
      const auto bytes = data_url_bytes(url, param, "invalid_video_url", "data:video/mp4;base64,...");
      return decode_video(bytes, param, limits.video_sampler, vl);
    }
    if (limits.image_root.empty())
      refuse(param, "invalid_video_url",
             "only data: URLs are accepted (start the server with --image-root DIR to allow files in DIR)");
    if (url.find("://") != std::string::npos && url.rfind("file://", 0) != 0)
      refuse(param, "invalid_video_url", "only data: URLs, file:// URLs and paths inside --image-root are accepted");
    const fs::path path = resolve_inside(limits.image_root, url, param, "invalid_video_url");
    Video v = load_video(path, limits.video_sampler, vl);
    v.source = param;  // not the server's file system path
    return v;
  } catch (const LoadError& e) {
    refuse(param, "invalid_video", std::string("cannot use the video: ") + e.what());
  }
}

}  // namespace smolvk::serve
