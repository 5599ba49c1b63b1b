// The server's request parser (apps/server/request.cpp) on arbitrary bytes: the body of a
// POST /v1/chat/completions. A RequestError is the expected answer to bad input; any other
// exception, a crash or a sanitizer report is a finding, and so is an accepted request that
// breaks the limits it was parsed under.
#include "apps/server/request.h"
#include "tests/fuzz/fuzz_targets.h"

namespace smolvk::fuzz {

int server_request(const uint8_t* data, size_t size) {
  serve::ParseLimits limits;
  limits.max_images = 3;
  limits.max_image_pixels = 512 * 512;  // keeps one run fast
  limits.context_length = 2048;
  serve::ChatRequest r;
  try {
    r = serve::parse_chat_request(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  } catch (const serve::RequestError& e) {
    if (e.error().status < 400 || e.error().status > 499 || e.error().message.empty())
      violated("a request error without a 4xx status and a message");
    return 0;
  }
  if (r.messages.empty()) violated("accepted a request without messages");
  if (r.images.size() > limits.max_images) violated("more images than max_images");
  size_t image_items = 0;
  for (const auto& m : r.messages) {
    if (m.content.empty()) violated("a message without content items");
    if (m.role != "system" && m.role != "user" && m.role != "assistant") violated("role " + m.role);
    for (const auto& item : m.content) image_items += item.kind == ChatItem::Image;
  }
  if (image_items != r.images.size()) violated("image items and images differ");
  for (const auto& im : r.images)
    if (int64_t(im.width) * im.height > limits.max_image_pixels) violated("image over max_image_pixels");
  if (r.max_tokens && (*r.max_tokens < 1 || *r.max_tokens >= limits.context_length)) violated("max_tokens");
  return 0;
}

}  // namespace smolvk::fuzz
