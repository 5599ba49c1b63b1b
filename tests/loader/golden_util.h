#pragma once
// Helpers of the loader's golden tests: a fixture's JSON file, and a tokenizer's streamed decode.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loader/tokenizer.h"

namespace smolvk::test {

inline nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

// The text StreamDecoder releases token by token, then its flush.
inline std::string stream_decode(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  StreamDecoder stream(tok);
  std::string out;
  for (int32_t id : ids) out += stream.feed(id);
  return out + stream.flush();
}

}  // namespace smolvk::test
