// Chat template recognition, applying it to fuzzed messages, and expanding the <image>
// placeholders with an arbitrary number of images, arbitrary grids and image_seq_len, then
// encoding the expanded prompt with the fixture tokenizer.
// Input: <chat template text> NUL <control bytes>; without a NUL the whole input is the
// template (so a chat_template.jinja is a seed) and the control bytes are empty.
#include <vector>

#include "loader/error.h"
#include "loader/preprocess.h"
#include "loader/prompt.h"
#include "loader/tokenizer.h"
#include "tests/fuzz/fuzz_targets.h"

namespace smolvk::fuzz {

namespace {
const Tokenizer& fixture_tokenizer() {
  static const Tokenizer tok = Tokenizer::load(data_dir() / "idefics3_f32" / "tokenizer.json");
  return tok;
}
}  // namespace

int prompt(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string_view jinja = all.substr(0, nul);
  const size_t ctl_at = nul == std::string_view::npos ? size : nul + 1;
  Reader r(data + ctl_at, size - ctl_at);

  ChatTemplate tmpl;
  try {
    tmpl = ChatTemplate::parse(jinja, "fuzz/chat_template.jinja");
  } catch (const LoadError&) {
  }
  // Messages: with no control bytes, one user turn "<image>Describe." as the CLI builds it.
  std::vector<ChatMessage> messages;
  const int n_messages = r.empty() ? -1 : r.u8() % 6;
  if (n_messages < 0) messages.push_back({"user", {{ChatItem::Image, ""}, {ChatItem::Text, "Describe."}}});
  for (int m = 0; m < n_messages; ++m) {
    ChatMessage msg{std::string(r.bytes(r.u8() % 12)), {}};
    const int items = r.u8() % 5;
    for (int i = 0; i < items; ++i) {
      const uint8_t kind = r.u8();
      if (kind & 1)
        msg.content.push_back({ChatItem::Image, ""});
      else
        msg.content.push_back({ChatItem::Text, std::string(r.bytes(kind >> 1))});
    }
    messages.push_back(std::move(msg));
  }
  std::string text;
  try {
    text = tmpl.apply(messages, r.u8() & 1);
  } catch (const LoadError&) {
    return 0;
  }

  ImageTokens tokens;
  if (r.u8() & 1) {  // the checkpoint may name its own image tokens
    tokens.image = std::string(r.bytes(r.u8() % 10));
    tokens.fake_image = std::string(r.bytes(r.u8() % 10));
    tokens.global_image = std::string(r.bytes(r.u8() % 10));
  }
  // Any number of images (right or wrong), any grid, any image_seq_len.
  std::vector<ImageGrid> grids(r.empty() ? 1 : r.u8());
  for (ImageGrid& g : grids) g = {int8_t(r.u8()), int8_t(r.u8())};
  if (grids.size() == 1 && r.empty()) grids[0] = {2, 3};
  const uint32_t raw_seq = r.u32();
  const int seq_len = r.empty() && raw_seq == 0 ? 64 : int32_t(raw_seq);
  std::string expanded;
  try {
    expanded = expand_image_tokens(text, grids, seq_len, tokens);
  } catch (const LoadError&) {
    return 0;
  }
  const std::vector<int32_t> ids = fixture_tokenizer().encode(expanded);
  if (!expanded.empty() && ids.empty()) violated("non-empty prompt encoded to no ids");
  return 0;
}

}  // namespace smolvk::fuzz
