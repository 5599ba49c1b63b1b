#include "loader/tokenizer_pretok.h"

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

}  // namespace

void split_gpt2(std::string_view text, std::vector<std::string_view>& out) {
  const std::vector<Unit> units = units_of(text);
  for (size_t i = 0; i < units.size();) {
    const size_t len = gpt2_match(units, i);
    const size_t begin = units[i].pos;
    const size_t end = i + len < units.size() ? units[i + len].pos : text.size();
    out.push_back(text.substr(begin, end - begin));
    i += len;
  }
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
  } else {
    throw LoadError(where() + ": unsupported type \"" + type + "\" (supported: Sequence, Digits, ByteLevel)");
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
      if (step.kind == Step::Kind::digits) {
        split_digits(p, step.individual_digits, parts);
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
