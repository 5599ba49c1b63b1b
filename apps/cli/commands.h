#pragma once
#include <string>
#include <vector>

namespace smolvk::cli {
int cmd_info(const std::vector<std::string>& args);
}  // namespace smolvk::cli
