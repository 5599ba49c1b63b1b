#include "apps/cli/args.h"

#include <cerrno>
#include <cstdlib>

namespace smolvk::cli {

Args::Args(const std::vector<std::string>& argv, const std::vector<Spec>& specs) {
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const Spec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (!spec) throw std::invalid_argument("unknown option --" + name + " (see --help)");
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= argv.size()) throw std::invalid_argument("--" + name + " needs a value");
      value = argv[++i];
    } else if (!spec->takes_value && inline_value) {
      throw std::invalid_argument("--" + name + " takes no value");
    }
    if (!spec->repeatable && values_.count(name)) throw std::invalid_argument("--" + name + " given twice");
    values_[name].push_back(value);
  }
}

std::string Args::get(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t def) const {
  if (!has(name)) return def;
  const std::string v = get(name);
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno) throw std::invalid_argument("--" + name + ": '" + v + "' is not an integer");
  return x;
}

double Args::get_double(const std::string& name, double def) const {
  if (!has(name)) return def;
  const std::string v = get(name);
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || errno) throw std::invalid_argument("--" + name + ": '" + v + "' is not a number");
  return x;
}

std::vector<int32_t> parse_id_list(const std::string& s) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string tok = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(tok.c_str(), &end, 10);
    if (tok.empty() || *end || errno || v < 0 || v > INT32_MAX)
      throw std::invalid_argument("--prompt-ids: '" + tok + "' is not a token id (expected e.g. 1,2,3)");
    ids.push_back(int32_t(v));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

}  // namespace smolvk::cli
