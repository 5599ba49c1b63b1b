#pragma once
// transformers' goldens (tests/data/<case>/golden/golden.json) as the loader's types: the file,
// and a request's chat messages (text, image and video items). Loader-level, so the loader, model and app tests share them.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "loader/prompt.h"

namespace smolvk::test {

inline nlohmann::json read_golden(const std::filesystem::path& model_dir) {
  std::ifstream in(model_dir / "golden" / "golden.json");
  return nlohmann::json::parse(in);
}

inline std::vector<ChatMessage> chat_from_json(const nlohmann::json& msgs) {
  std::vector<ChatMessage> out;
  for (const auto& m : msgs) {
    ChatMessage cm{m.at("role").get<std::string>(), {}};
    for (const auto& item : m.at("content")) {
      if (item.at("type") == "image")
        cm.content.push_back({ChatItem::Image, {}});
      else if (item.at("type") == "video")
        cm.content.push_back({ChatItem::Video, {}});
      else
        cm.content.push_back({ChatItem::Text, item.at("text").get<std::string>()});
    }
    out.push_back(std::move(cm));
  }
  return out;
}

}  // namespace smolvk::test
