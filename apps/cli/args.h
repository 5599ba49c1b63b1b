#pragma once
// A small option parser for the subcommands: --name value / --name=value / flags.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace smolvk::cli {

class Args {
 public:
  struct Spec {
    std::string name;  // without dashes
    bool takes_value;
    bool repeatable = false;
  };
  Args(const std::vector<std::string>& argv, const std::vector<Spec>& specs);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& def = {}) const;
  std::vector<std::string> all(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t def) const;
  double get_double(const std::string& name, double def) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// "1,2,3" → ids; throws naming the bad element.
std::vector<int32_t> parse_id_list(const std::string& s);

}  // namespace smolvk::cli
