#include "loader/tokenizer_pretok.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "loader/error.h"
#include "loader/tokenizer_bytelevel.h"
#include "loader/unicode.h"

namespace smolvk {
namespace {

enum class CharClass : uint8_t { other, letter, number, space };

struct Unit {
  size_t pos;
  uint32_t len;
  char32_t cp;  // 0 for ill-formed bytes
  CharClass cls;
};

std::vector<Unit> units_of(std::string_view text) {
  std::vector<Unit> units;
  units.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Unit u = unicode::decode_utf8(text, pos);
    CharClass cls = CharClass::other;
    if (u.valid) {
      if (unicode::is_letter(u.cp))
        cls = CharClass::letter;
      else if (unicode::is_number(u.cp))
        cls = CharClass::number;
      else if (unicode::is_white_space(u.cp))
        cls = CharClass::space;
    }
    units.push_back({pos, u.len, u.valid ? u.cp : 0, cls});
    pos += u.len;
  }
  return units;
}

// Length in units of the regex match starting at unit i (every position matches something).
size_t gpt2_match(const std::vector<Unit>& u, size_t i) {
  const size_t n = u.size();
  auto cp = [&](size_t k) { return k < n ? u[k].cp : char32_t(0); };
  auto run = [&](size_t k, CharClass cls) {
    while (k < n && u[k].cls == cls) ++k;
    return k;
  };
  // 's|'t|'re|'ve|'m|'ll|'d
  if (cp(i) == '\'') {
    const char32_t a = cp(i + 1), b = cp(i + 2);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  // ' ?X+' for X in letter, number, other: the optional space is taken when X follows.
  const size_t body = (cp(i) == ' ' && i + 1 < n && u[i + 1].cls != CharClass::space) ? i + 1 : i;
  if (u[body].cls != CharClass::space) return run(body, u[body].cls) - i;
  // \s+(?!\S): the longest whitespace run that is not followed by a non-space, else \s+.
  const size_t end = run(i, CharClass::space);
  if (end == n || end - i == 1) return end - i;
  return end - 1 - i;
}

// (?i) of the contraction letters: ASCII case, and U+017F LATIN SMALL LETTER LONG S, whose
// case fold is 's' (no other code point folds to one of "stremvld").
char32_t fold_contraction_letter(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A' + 'a';
  return c == 0x17F ? U's' : c;
}

// Length in units of Llama-3's regex match at unit i; see split_llama3. Each alternative is
// tried in order and the first that matches wins, with its greedy quantifiers backtracked only
// as far as the rest of that alternative needs.
size_t llama3_match(const std::vector<Unit>& u, size_t i, size_t max_digits) {
  const size_t n = u.size();
  auto cp = [&](size_t k) { return k < n ? u[k].cp : char32_t(0); };
  auto is_cr_lf = [&](size_t k) { return k < n && (u[k].cp == '\r' || u[k].cp == '\n'); };
  auto run = [&](size_t k, CharClass cls) {
    while (k < n && u[k].cls == cls) ++k;
    return k;
  };
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (cp(i) == '\'') {
    const char32_t a = fold_contraction_letter(cp(i + 1)), b = fold_contraction_letter(cp(i + 2));
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  const CharClass cls = u[i].cls;
  // [^\r\n\p{L}\p{N}]?\p{L}+ : a letter run, with one character before it that is neither a
  // letter, a number, CR nor LF (a space, tab, punctuation, mark, symbol).
  if (cls == CharClass::letter) return run(i, CharClass::letter) - i;
  if (cls != CharClass::number && !is_cr_lf(i) && i + 1 < n && u[i + 1].cls == CharClass::letter)
    return run(i + 1, CharClass::letter) - i;
  // \p{N}{1,3}
  if (cls == CharClass::number) {
    size_t k = i;
    while (k < n && k - i < max_digits && u[k].cls == CharClass::number) ++k;
    return k - i;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  const size_t body = (cp(i) == ' ' && i + 1 < n && u[i + 1].cls == CharClass::other) ? i + 1 : i;
  if (u[body].cls == CharClass::other) {
    size_t k = run(body, CharClass::other);
    while (is_cr_lf(k)) ++k;
    return k - i;
  }
  // Whitespace from here on: the run is u[i, end).
  const size_t end = run(i, CharClass::space);
  // \s*[\r\n]+ : \s* backs off to the last CR or LF of the run, which [\r\n]+ then takes.
  for (size_t k = end; k > i; --k)
    if (is_cr_lf(k - 1)) return k - i;
  // \s+(?!\S) : the run, less its last character when a non-space follows; else \s+.
  if (end == n || end - i == 1) return end - i;
  return end - 1 - i;
}

// Find-all of a hand-written regex whose matches cover the input.
template <class Match>
void split_all(std::string_view text, std::vector<std::string_view>& out, Match match) {
  const std::vector<Unit> units = units_of(text);
  for (size_t i = 0; i < units.size();) {
    const size_t len = match(units, i);
    const size_t begin = units[i].pos;
    const size_t end = i + len < units.size() ? units[i + len].pos : text.size();
    out.push_back(text.substr(begin, end - begin));
    i += len;
  }
}

}  // namespace

void split_gpt2(std::string_view text, std::vector<std::string_view>& out) { split_all(text, out, gpt2_match); }

void split_llama3(std::string_view text, std::vector<std::string_view>& out, size_t max_digits) {
  split_all(text, out, [&](const std::vector<Unit>& u, size_t i) { return llama3_match(u, i, max_digits); });
}

void split_digits(std::string_view text, bool individual, std::vector<std::string_view>& out) {
  size_t start = 0;  // start of the pending piece
  bool pending_numeric = false;
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Unit u = unicode::decode_utf8(text, pos);
    const bool numeric = u.valid && unicode::is_number(u.cp);
    if (pos > start && (numeric != pending_numeric || (numeric && individual))) {
      out.push_back(text.substr(start, pos - start));
      start = pos;
    }
    pending_numeric = numeric;
    pos += u.len;
  }
  if (start < text.size()) out.push_back(text.substr(start));
}

namespace {

// The Split regexes implemented by hand, as they appear (JSON-decoded) in tokenizer.json.
constexpr std::string_view kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A piece of the input: [begin, end) bytes, and whether the pattern matched it (after the
// behaviour is applied: whether it is dropped).
struct Span {
  size_t begin, end;
  bool flag;
};

}  // namespace

PreTokenizer::Step PreTokenizer::split_step(const nlohmann::json& spec, const std::string& where) {
  Step s{Step::Kind::split};
  auto quoted = [](std::string_view regex) { return nlohmann::json(std::string(regex)).dump(); };
  const std::string supported = "supported: {\"String\": any non-empty text}, or {\"Regex\": exactly GPT-2's " +
                                quoted(kGpt2Regex) + ", Llama-3's " + quoted(kLlama3Regex) + " or Qwen2's " +
                                quoted(kQwen2Regex) + "}";
  const nlohmann::json* pattern = spec.contains("pattern") ? &spec["pattern"] : nullptr;
  if (!pattern || !pattern->is_object() || pattern->size() != 1 ||
      !(pattern->contains("String") || pattern->contains("Regex")) || !pattern->begin()->is_string())
    throw LoadError(where + " Split: expected \"pattern\": {\"String\": text} or {\"Regex\": text}, got " +
                    (pattern ? pattern->dump().substr(0, 300) : std::string("nothing")) + " (" + supported + ")");
  const std::string text = pattern->begin()->get<std::string>();
  if (pattern->contains("String")) {
    if (text.empty()) throw LoadError(where + " Split pattern {\"String\": \"\"} is not supported (" + supported + ")");
    s.literal = text;
  } else if (text == kGpt2Regex) {
    s.pattern = SplitPattern::gpt2;
  } else if (text == kLlama3Regex) {
    s.pattern = SplitPattern::llama3;
  } else if (text == kQwen2Regex) {
    s.pattern = SplitPattern::qwen2;
  } else {
    throw LoadError(where + " Split pattern " + pattern->dump().substr(0, 300) +
                    " is not supported: there is no regex engine, only hand-written matchers for known patterns (" +
                    supported + ")");
  }
  const nlohmann::json behavior = spec.value("behavior", nlohmann::json());
  static const std::pair<const char*, SplitBehavior> kBehaviors[] = {
      {"Removed", SplitBehavior::removed},
      {"Isolated", SplitBehavior::isolated},
      {"MergedWithPrevious", SplitBehavior::merged_with_previous},
      {"MergedWithNext", SplitBehavior::merged_with_next},
      {"Contiguous", SplitBehavior::contiguous}};
  bool known = false;
  for (const auto& [name, b] : kBehaviors) {
    if (behavior.is_string() && behavior.get<std::string>() == name) {
      s.behavior = b;
      known = true;
    }
  }
  if (!known)
    throw LoadError(where + " Split: \"behavior\" " + behavior.dump() +
                    " is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
  if (spec.contains("invert") && !spec["invert"].is_null()) {
    if (!spec["invert"].is_boolean())
      throw LoadError(where + " Split: \"invert\" must be a boolean, got " + spec["invert"].dump());
    s.invert = spec["invert"].get<bool>();
  }
  return s;
}

// HF NormalizedString::split: the pattern's matches and the gaps between them, folded by the
// behaviour; empty pieces are dropped (as PreTokenizedString::split does).
void PreTokenizer::split(const Step& step, std::string_view text, std::vector<std::string_view>& out) {
  std::vector<Span> found;
  if (step.pattern == SplitPattern::literal) {
    size_t prev = 0;
    for (size_t at = text.find(step.literal); at != std::string_view::npos;
         at = text.find(step.literal, at + step.literal.size())) {
      if (at != prev) found.push_back({prev, at, false});
      found.push_back({at, at + step.literal.size(), true});
      prev = at + step.literal.size();
    }
    if (prev != text.size()) found.push_back({prev, text.size(), false});
  } else {
    std::vector<std::string_view> parts;
    if (step.pattern == SplitPattern::gpt2)
      split_gpt2(text, parts);
    else
      split_llama3(text, parts, step.pattern == SplitPattern::qwen2 ? 1 : 3);
    for (std::string_view p : parts) {
      const auto begin = size_t(p.data() - text.data());
      found.push_back({begin, begin + p.size(), true});
    }
  }
  if (step.invert)
    for (Span& f : found) f.flag = !f.flag;

  std::vector<Span> pieces;  // flag: drop it
  bool previous = false;     // whether the previous span matched
  switch (step.behavior) {
    case SplitBehavior::isolated:
      for (const Span& f : found) pieces.push_back({f.begin, f.end, false});
      break;
    case SplitBehavior::removed:
      pieces = found;
      break;
    case SplitBehavior::contiguous:
      for (const Span& f : found) {
        if (f.flag == previous && !pieces.empty())
          pieces.back().end = f.end;
        else
          pieces.push_back({f.begin, f.end, false});
        previous = f.flag;
      }
      break;
    case SplitBehavior::merged_with_previous:
      for (const Span& f : found) {
        if (f.flag && !previous && !pieces.empty())
          pieces.back().end = f.end;
        else
          pieces.push_back({f.begin, f.end, false});
        previous = f.flag;
      }
      break;
    case SplitBehavior::merged_with_next:
      for (auto f = found.rbegin(); f != found.rend(); ++f) {
        if (f->flag && !previous && !pieces.empty())
          pieces.back().begin = f->begin;
        else
          pieces.push_back({f->begin, f->end, false});
        previous = f->flag;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
  }
  for (const Span& p : pieces)
    if (!p.flag && p.end > p.begin) out.push_back(text.substr(p.begin, p.end - p.begin));
}

void PreTokenizer::add_steps(const nlohmann::json& spec, const std::string& origin, std::vector<Step>& steps) {
  auto where = [&] { return origin + ": pre_tokenizer"; };
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    throw LoadError(where() + ": expected an object with a string \"type\", got " + spec.dump());
  const std::string type = spec["type"];
  auto flag = [&](const char* key, bool fallback) {
    if (!spec.contains(key) || spec[key].is_null()) return fallback;
    if (!spec[key].is_boolean())
      throw LoadError(where() + " " + type + ": \"" + key + "\" must be a boolean, got " + spec[key].dump());
    return spec[key].get<bool>();
  };
  if (type == "Sequence") {
    if (!spec.contains("pretokenizers") || !spec["pretokenizers"].is_array())
      throw LoadError(where() + " Sequence: expected an array \"pretokenizers\"");
    for (const auto& sub : spec["pretokenizers"]) add_steps(sub, origin, steps);
  } else if (type == "Digits") {
    Step s{Step::Kind::digits};
    s.individual_digits = flag("individual_digits", false);
    steps.push_back(s);
  } else if (type == "ByteLevel") {
    Step s{Step::Kind::byte_level};
    s.add_prefix_space = flag("add_prefix_space", true);
    s.use_regex = flag("use_regex", true);
    steps.push_back(s);
  } else if (type == "Split") {
    steps.push_back(split_step(spec, where()));
  } else {
    throw LoadError(where() + ": unsupported type \"" + type + "\" (supported: Sequence, Digits, ByteLevel, Split)");
  }
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& spec, const std::string& origin) {
  PreTokenizer p;
  if (!spec.is_null()) add_steps(spec, origin, p.steps_);
  return p;
}

void PreTokenizer::run(std::string_view piece, std::vector<std::string>& words) const {
  std::vector<std::string> cur{std::string(piece)}, next;
  std::vector<std::string_view> parts;
  for (const Step& step : steps_) {
    next.clear();
    for (std::string& p : cur) {
      parts.clear();
      if (step.kind == Step::Kind::digits || step.kind == Step::Kind::split) {
        if (step.kind == Step::Kind::digits)
          split_digits(p, step.individual_digits, parts);
        else
          split(step, p, parts);
        for (std::string_view s : parts) next.emplace_back(s);
        continue;
      }
      if (step.add_prefix_space && (p.empty() || p.front() != ' ')) p.insert(0, 1, ' ');
      if (step.use_regex)
        split_gpt2(p, parts);
      else
        parts.push_back(p);
      for (std::string_view s : parts) {
        std::string mapped;
        bytelevel::append_mapped(mapped, s);
        next.push_back(std::move(mapped));
      }
    }
    cur.swap(next);
  }
  for (std::string& w : cur)
    if (!w.empty()) words.push_back(std::move(w));
}

}  // namespace smolvk
