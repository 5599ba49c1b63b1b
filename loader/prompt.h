#pragma once
// The SmolVLM / Idefics3 chat layout and the expansion of each <image> placeholder into the
// processor's tile layout, byte for byte as transformers builds the prompt text.
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/generation_config.h"
#include "loader/preprocess.h"
#include "loader/tokenizer.h"
#include "loader/video_preprocess.h"

namespace smolvk {

// The end of every chat turn in the SmolVLM / Idefics3 layout. Generation stops on it whether
// or not generation_config.json lists it: Idefics3-8B's omits it (smolvlm-reference.md).
inline constexpr std::string_view kEndOfUtterance = "<end_of_utterance>";

// The ids generation stops on: generation_config.json's eos_token_id(s), then the tokenizer's
// kEndOfUtterance where it has one (each once).
std::vector<int32_t> stop_token_ids(const GenerationConfig& generation, const Tokenizer& tokenizer);

struct ChatItem {
  enum Kind { Text, Image, Video } kind = Text;
  std::string text;  // Text items only
};

struct ChatMessage {
  std::string role;  // "user", "assistant", ...: written capitalised
  std::vector<ChatItem> content;
};

// The checkpoint's Jinja chat template, recognised (not interpreted): every SmolVLM /
// Idefics3 template is the same loop after a literal prefix (`<|im_start|>`, or
// `<|begin_of_text|>` for Idefics3-8B). Per message: role capitalised (ASCII; other bytes
// kept), ":" if the first item is an image else ": ", the items (text verbatim, image →
// `<image>`), `<end_of_utterance>\n`; then `Assistant:` when a generation prompt is asked.
class ChatTemplate {
 public:
  ChatTemplate() = default;  // SmolVLM's layout with the `<|im_start|>` prefix
  // From model_dir: chat_template.jinja, chat_template.json, processor_config.json or
  // tokenizer_config.json (first found). LoadError if none, or if not recognised.
  static ChatTemplate load(const std::filesystem::path& model_dir);
  // LoadError naming `source` and the missing marker when `jinja` is not this layout.
  static ChatTemplate parse(std::string_view jinja, const std::string& source);

  // LoadError for a message without content items (the template indexes content[0]).
  std::string apply(std::span<const ChatMessage> messages, bool add_generation_prompt) const;
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_ = "<|im_start|>";
};

// SmolVLM's layout (ChatTemplate()).
std::string apply_chat_template(std::span<const ChatMessage> messages, bool add_generation_prompt);

// The strings the processor writes around image tokens. Defaults are transformers'
// processor defaults; load() takes any the checkpoint's tokenizer_config.json names
// (top-level or in "extra_special_tokens": image_token, fake_image_token, global_image_token,
// video_token).
struct ImageTokens {
  std::string image = "<image>";
  std::string fake_image = "<fake_token_around_image>";
  std::string global_image = "<global-img>";
  std::string video = "<video>";  // the placeholder the video chat template writes

  static ImageTokens load(const std::filesystem::path& model_dir);
  // `<row_R_col_C>`, 1-based: the processor's fixed format.
  std::string row_col(int row, int col) const;
};

// Most <image> tokens one prompt may expand to (Σ tiles × image_seq_len over its images),
// checked before the text is built: 2^18 is 8× the longest context of any SmolVLM.
inline constexpr int64_t kMaxPromptImageTokens = int64_t{1} << 18;
// Longest image / fake-image / global-image token string accepted (each is repeated per tile).
inline constexpr size_t kMaxImageTokenBytes = 256;

// Replaces the i-th `tok.image` in `prompt` with the layout of grids[i]: for a split image,
// per tile row r and column c `fake + <row_r_col_c> + image×seq_len`, `\n` after each row,
// then `\n + fake + global + image×seq_len + fake`; unsplit: `fake + global + image×seq_len +
// fake`. LoadError when the placeholder count differs from grids.size() (both counts named).
std::string expand_image_tokens(const std::string& prompt, std::span<const ImageGrid> grids, int image_seq_len,
                                const ImageTokens& tok);

// num2words(n) in English (num2words 0.5, Num2Word_EN.to_cardinal) for 0 ≤ n < 10^6:
// "four", "twenty-one", "one hundred and five", "one thousand, two hundred and thirty-four".
// LoadError outside that range.
std::string number_to_words(int64_t n);
// processing_smolvlm.py's frame timestamp: seconds → f"{int(s // 60):02d}:{int(s % 60):02d}"
// with Python's float floor division and modulo.
std::string video_timestamp(double seconds);
// str(timedelta(seconds=int(duration))): "0:00:03", "1:02:03", "2 days, 0:00:00".
std::string video_duration_text(double duration);

// SmolVLMProcessor.replace_video_token (transformers 5.17) for one video:
//   "You are provided the following series of {num2words(frame_count)} frames from a
//   {duration} [H:MM:SS] video.\n" + per frame "\nFrame from {MM:SS}:" + fake + global +
//   image×image_seq_len + fake, then "\n\n". frame_count is the batch's frame count
// (pixel_values.shape[1]: the most frames of any video in the call), the timestamps are the
// video's own (frame index / fps).
std::string video_prompt(int64_t frame_count, const VideoMetadata& video, int image_seq_len, const ImageTokens& tok);

// Replaces the i-th `tok.video` in `prompt` with video_prompt of videos[i], frame_count the
// most frames of them. LoadError when the placeholder count differs from videos.size(), when a
// video has no frames, or when the frames need more than kMaxPromptImageTokens image tokens.
std::string expand_video_tokens(const std::string& prompt, std::span<const VideoMetadata> videos, int image_seq_len,
                                const ImageTokens& tok);

}  // namespace smolvk
