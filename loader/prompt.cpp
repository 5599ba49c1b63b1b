#include "loader/prompt.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "loader/config_json.h"
#include "loader/error.h"

namespace smolvk {
namespace {

using nlohmann::json;

// Python's str.capitalize on ASCII.
std::string capitalize(std::string s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char& ch = reinterpret_cast<unsigned char&>(s[i]);
    if (ch < 0x80) ch = i == 0 ? std::toupper(ch) : std::tolower(ch);
  }
  return s;
}

size_t count_occurrences(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string_view::npos; pos = text.find(needle, pos + needle.size())) ++n;
  return n;
}

// The Jinja with blanks dropped and double quotes as single quotes, so that formatting
// differences between checkpoints do not matter.
std::string compact(std::string_view jinja) {
  std::string out;
  for (char ch : jinja) {
    if (ch == ' ' || ch == '\t') continue;
    out += ch == '"' ? '\'' : ch;
  }
  return out;
}

std::string template_from_json_value(const json& v, const std::string& source) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array())  // [{"name": "default", "template": "..."}, ...]
    for (const auto& t : v)
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        return t["template"].get<std::string>();
  throw LoadError(source + ": \"chat_template\" is neither a string nor a list with a \"default\" template");
}

}  // namespace

ChatTemplate ChatTemplate::parse(std::string_view jinja, const std::string& source) {
  const std::string c = compact(jinja);
  static constexpr const char* kMarkers[] = {
      "{%formessageinmessages%}",
      "capitalize",
      "{%ifmessage['content'][0]['type']=='image'%}{{':'}}{%else%}",
      "{%forlineinmessage['content']%}",
      "{%ifline['type']=='text'%}{{line['text']}}",
      "{%elifline['type']=='image'%}{{'<image>'}}",
      "<end_of_utterance>\n{%endfor%}",
      "{%ifadd_generation_prompt%}{{'Assistant:'}}{%endif%}",
  };
  for (const char* m : kMarkers)
    if (c.find(m) == std::string::npos)
      throw LoadError(source + ": chat template not recognised as the SmolVLM / Idefics3 layout (no `" +
                      std::string(m) + "` in it)");
  // ": " after a text-first role: the one place where a blank matters.
  if (jinja.find("': '") == std::string_view::npos && jinja.find("\": \"") == std::string_view::npos)
    throw LoadError(source + ": chat template not recognised as the SmolVLM / Idefics3 layout (no `': '` in it)");
  const size_t first_tag = jinja.find("{%");
  const std::string_view prefix = jinja.substr(0, first_tag);
  if (prefix.find("{{") != std::string_view::npos || prefix.find("{#") != std::string_view::npos)
    throw LoadError(source + ": chat template not recognised (expressions before the message loop)");
  ChatTemplate t;
  t.prefix_ = std::string(prefix);
  return t;
}

ChatTemplate ChatTemplate::load(const std::filesystem::path& dir) {
  if (const auto p = dir / "chat_template.jinja"; std::filesystem::exists(p)) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw LoadError(p.string() + ": cannot open");
    std::stringstream ss;
    ss << f.rdbuf();
    return parse(ss.str(), p.string());
  }
  for (const char* name : {"chat_template.json", "processor_config.json", "tokenizer_config.json"}) {
    const auto p = dir / name;
    if (!std::filesystem::exists(p)) continue;
    const json j = read_config_json_file(p);
    if (j.is_object() && j.contains("chat_template") && !j["chat_template"].is_null())
      return parse(template_from_json_value(j["chat_template"], p.string()), p.string() + " chat_template");
  }
  throw LoadError(dir.string() +
                  ": no chat template (looked for chat_template.jinja, chat_template.json, and "
                  "\"chat_template\" in processor_config.json and tokenizer_config.json)");
}

std::string ChatTemplate::apply(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  std::string out = prefix_;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.content.empty())
      throw LoadError("chat message " + std::to_string(i) + " (role \"" + m.role +
                      "\") has no content items; the chat template needs at least one");
    out += capitalize(m.role);
    out += m.content.front().kind == ChatItem::Image ? ":" : ": ";
    for (const ChatItem& item : m.content)
      out += item.kind == ChatItem::Image ? "<image>" : item.kind == ChatItem::Video ? "<video>" : item.text;
    out += kEndOfUtterance;
    out += "\n";
  }
  if (add_generation_prompt) out += "Assistant:";
  return out;
}

std::string apply_chat_template(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  return ChatTemplate().apply(messages, add_generation_prompt);
}

ImageTokens ImageTokens::load(const std::filesystem::path& dir) {
  ImageTokens t;
  const auto p = dir / "tokenizer_config.json";
  if (!std::filesystem::exists(p)) return t;
  const json j = read_config_json_file(p);
  if (!j.is_object()) throw LoadError(p.string() + ": expected a JSON object");
  const auto pick = [&](const char* key, std::string& out) {
    for (const json* scope : {&j, j.contains("extra_special_tokens") ? &j["extra_special_tokens"] : nullptr}) {
      if (!scope || !scope->is_object() || !scope->contains(key)) continue;
      const json& v = (*scope)[key];
      // A plain string or a serialised AddedToken {"content": ...}.
      const json* s = v.is_object() && v.contains("content") ? &v["content"] : &v;
      if (!s->is_string() || s->get<std::string>().empty())
        throw LoadError(p.string() + ": \"" + key + "\" = " + v.dump() + ", expected a non-empty token string");
      out = s->get<std::string>();
    }
  };
  pick("image_token", t.image);
  pick("fake_image_token", t.fake_image);
  pick("global_image_token", t.global_image);
  pick("video_token", t.video);
  return t;
}

std::string ImageTokens::row_col(int row, int col) const {
  return "<row_" + std::to_string(row) + "_col_" + std::to_string(col) + ">";
}

std::string expand_image_tokens(const std::string& prompt, std::span<const ImageGrid> grids, int image_seq_len,
                                const ImageTokens& tok) {
  if (tok.image.empty()) throw LoadError("expand_image_tokens: the image token string is empty");
  if (image_seq_len <= 0 || image_seq_len > kMaxPromptImageTokens)
    throw LoadError("expand_image_tokens: image_seq_len = " + std::to_string(image_seq_len) + ", expected 1.." +
                    std::to_string(kMaxPromptImageTokens) + " (the image-token limit for one prompt)");
  for (const std::string* s : {&tok.image, &tok.fake_image, &tok.global_image})
    if (s->size() > kMaxImageTokenBytes)
      throw LoadError("expand_image_tokens: image token string of " + std::to_string(s->size()) +
                      " bytes, over the limit of " + std::to_string(kMaxImageTokenBytes));
  const size_t placeholders = count_occurrences(prompt, tok.image);
  if (placeholders != grids.size())
    throw LoadError("prompt has " + std::to_string(placeholders) + " `" + tok.image + "` placeholder(s) but " +
                    std::to_string(grids.size()) + " image(s) were given; they must match");
  int64_t image_tokens = 0;  // before anything is allocated
  for (const ImageGrid& g : grids) {
    if (g.rows < 0 || g.cols < 0 || (g.rows == 0) != (g.cols == 0))
      throw LoadError("expand_image_tokens: image grid " + std::to_string(g.rows) + "x" + std::to_string(g.cols) +
                      ", expected both 0 (unsplit) or both positive");
    const int64_t tiles = int64_t(g.rows) * g.cols + 1;  // < 2^62: no overflow below
    image_tokens += std::min(tiles, kMaxPromptImageTokens + 1) * image_seq_len;
    if (image_tokens > kMaxPromptImageTokens)
      throw LoadError("expand_image_tokens: " + std::to_string(grids.size()) + " image(s) of " +
                      std::to_string(image_seq_len) + " tokens per tile need over " +
                      std::to_string(kMaxPromptImageTokens) + " image tokens, the limit for one prompt");
  }
  std::string run;
  run.reserve(tok.image.size() * image_seq_len);
  for (int i = 0; i < image_seq_len; ++i) run += tok.image;

  std::string out;
  size_t pos = 0;
  for (const ImageGrid& g : grids) {
    if (g.rows < 0 || g.cols < 0 || (g.rows == 0) != (g.cols == 0))
      throw LoadError("expand_image_tokens: image grid " + std::to_string(g.rows) + "x" + std::to_string(g.cols) +
                      ", expected both 0 (unsplit) or both positive");
    const size_t at = prompt.find(tok.image, pos);
    out.append(prompt, pos, at - pos);
    pos = at + tok.image.size();
    if (g.rows == 0) {
      out += tok.fake_image + tok.global_image + run + tok.fake_image;
      continue;
    }
    for (int r = 1; r <= g.rows; ++r) {
      for (int c = 1; c <= g.cols; ++c) out += tok.fake_image + tok.row_col(r, c) + run;
      out += '\n';
    }
    out += '\n' + tok.fake_image + tok.global_image + run + tok.fake_image;
  }
  out.append(prompt, pos, std::string::npos);
  return out;
}

namespace {

// CPython's float divmod (Objects/floatobject.c _float_div_mod): floor quotient and the
// remainder with the divisor's sign.
std::pair<double, double> python_divmod(double vx, double wx) {
  double mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0.0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  double floordiv;
  if (div != 0.0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
  return {floordiv, mod};
}

std::string two_digits(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  if (s.size() < 2) s.insert(0, 2 - s.size(), '0');
  return v < 0 ? "-" + s : s;
}

int64_t python_int(double x, const char* what) {
  if (!std::isfinite(x) || std::fabs(x) > 9e15)
    throw LoadError(std::string(what) + " " + std::to_string(x) + " is not a finite number of seconds");
  return int64_t(x);  // truncates toward zero, as int() does
}

}  // namespace

std::string number_to_words(int64_t n) {
  static const char* const kLow[] = {"zero",    "one",     "two",       "three",    "four",
                                     "five",    "six",     "seven",     "eight",    "nine",
                                     "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                     "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
  static const char* const kTens[] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
                                      "ninety"};
  if (n < 0 || n >= 1000000)
    throw LoadError("number_to_words: " + std::to_string(n) + " is outside 0..999999");
  // Num2Word_EN.merge: "-" between tens and units, " and " after hundreds (and after thousands
  // when less than a hundred follows), ", " after thousands otherwise.
  auto below_thousand = [&](int64_t v) {
    std::string s;
    if (v >= 100) {
      s = std::string(kLow[v / 100]) + " hundred";
      v %= 100;
      if (v == 0) return s;
      s += " and ";
    }
    if (v < 20) return s + kLow[v];
    s += kTens[v / 10];
    if (v % 10) s += std::string("-") + kLow[v % 10];
    return s;
  };
  if (n < 1000) return below_thousand(n);
  std::string s = below_thousand(n / 1000) + " thousand";
  const int64_t rest = n % 1000;
  if (rest == 0) return s;
  return s + (rest < 100 ? " and " : ", ") + below_thousand(rest);
}

std::string video_timestamp(double seconds) {
  const std::pair<double, double> q = python_divmod(seconds, 60.0);  // (s // 60, s % 60)
  return two_digits(python_int(q.first, "frame timestamp")) + ":" + two_digits(python_int(q.second, "frame timestamp"));
}

std::string video_duration_text(double duration) {
  int64_t total = python_int(duration, "video duration");
  // timedelta normalises to days and 0 <= seconds < 86400 (negative days for negative input).
  int64_t days = total / 86400, rem = total % 86400;
  if (rem < 0) rem += 86400, --days;
  std::string s = std::to_string(rem / 3600) + ":" + two_digits(rem / 60 % 60) + ":" + two_digits(rem % 60);
  if (days != 0) s = std::to_string(days) + " day" + (days == 1 || days == -1 ? "" : "s") + ", " + s;
  return s;
}

std::string video_prompt(int64_t frame_count, const VideoMetadata& video, int image_seq_len, const ImageTokens& tok) {
  if (video.frame_indices.empty()) throw LoadError("video_prompt: the video has no frames");
  if (!(video.fps > 0)) throw LoadError("video_prompt: the video's fps is not positive");
  std::string run;
  run.reserve(tok.image.size() * size_t(image_seq_len));
  for (int i = 0; i < image_seq_len; ++i) run += tok.image;
  const std::string frame = tok.fake_image + tok.global_image + run + tok.fake_image;
  std::string out = "You are provided the following series of " + number_to_words(frame_count) + " frames from a " +
                    video_duration_text(video.duration) + " [H:MM:SS] video.\n";
  for (double t : video.timestamps()) out += "\nFrame from " + video_timestamp(t) + ":" + frame;
  return out + "\n\n";
}

std::string expand_video_tokens(const std::string& prompt, std::span<const VideoMetadata> videos, int image_seq_len,
                                const ImageTokens& tok) {
  if (tok.video.empty() || tok.image.empty()) throw LoadError("expand_video_tokens: empty video or image token string");
  if (image_seq_len <= 0 || image_seq_len > kMaxPromptImageTokens)
    throw LoadError("expand_video_tokens: image_seq_len = " + std::to_string(image_seq_len) + ", expected 1.." +
                    std::to_string(kMaxPromptImageTokens));
  for (const std::string* s : {&tok.image, &tok.fake_image, &tok.global_image, &tok.video})
    if (s->size() > kMaxImageTokenBytes)
      throw LoadError("expand_video_tokens: token string of " + std::to_string(s->size()) +
                      " bytes, over the limit of " + std::to_string(kMaxImageTokenBytes));
  const size_t placeholders = count_occurrences(prompt, tok.video);
  if (placeholders != videos.size())
    throw LoadError("prompt has " + std::to_string(placeholders) + " `" + tok.video + "` placeholder(s) but " +
                    std::to_string(videos.size()) + " video(s) were given; they must match");
  int64_t frame_count = 0, image_tokens = 0;
  for (const VideoMetadata& v : videos) {
    if (v.frame_indices.empty()) throw LoadError("expand_video_tokens: a video has no frames");
    frame_count = std::max<int64_t>(frame_count, int64_t(v.frame_indices.size()));
    image_tokens += int64_t(std::min<size_t>(v.frame_indices.size(), size_t(kMaxPromptImageTokens) + 1)) * image_seq_len;
    if (image_tokens > kMaxPromptImageTokens)
      throw LoadError("expand_video_tokens: the videos' frames of " + std::to_string(image_seq_len) +
                      " tokens each need over " + std::to_string(kMaxPromptImageTokens) +
                      " image tokens, the limit for one prompt");
  }
  std::string out;
  size_t pos = 0;
  for (const VideoMetadata& v : videos) {
    const size_t at = prompt.find(tok.video, pos);
    out.append(prompt, pos, at - pos);
    out += video_prompt(frame_count, v, image_seq_len, tok);
    pos = at + tok.video.size();
  }
  out.append(prompt, pos, std::string::npos);
  return out;
}

std::vector<int32_t> stop_token_ids(const GenerationConfig& generation, const Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  auto add = [&](int64_t id) {
    if (std::find(ids.begin(), ids.end(), int32_t(id)) == ids.end()) ids.push_back(int32_t(id));
  };
  for (int64_t id : generation.eos_token_ids) add(id);
  if (auto eou = tokenizer.token_to_id(kEndOfUtterance)) add(*eou);
  return ids;
}

}  // namespace smolvk
