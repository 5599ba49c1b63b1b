#pragma once
#include <string>
#include <vector>

namespace smolvk::cli {
int cmd_info(const std::vector<std::string>& args);
int cmd_run(const std::vector<std::string>& args);
int cmd_chat(const std::vector<std::string>& args);
int cmd_bench(const std::vector<std::string>& args);
int cmd_profile(const std::vector<std::string>& args);
int cmd_soak(const std::vector<std::string>& args);
}  // namespace smolvk::cli
