#pragma once
// A multi-turn conversation that keeps its KV cache (and the image features in it) between
// turns: each turn prefills only the new tokens.
#include <optional>

#include "model/smolvlm.h"

namespace smolvk {

class ChatSession {
 public:
  // capacity = positions kept (0: the model's maximum, at most 4096).
  explicit ChatSession(Model& model, int64_t capacity = 0);
  ~ChatSession();

  // One user turn: the images (placed before the text) and the text. The answer streams
  // through on_token. Throws std::invalid_argument before any work if the turn would not fit.
  Result send(const std::string& text, const std::vector<Image>& images, const GenerateOptions& o,
              const TokenCallback& on_token = {});
  int64_t tokens_in_context() const { return length_; }
  int64_t capacity() const;
  void reset();

 private:
  Model& model_;
  struct State;
  std::unique_ptr<State> state_;
  int64_t length_ = 0;
  std::optional<int32_t> pending_;  // the last answer token: sampled, not yet in the cache
  bool last_stopped_on_eos_ = true;
};

}  // namespace smolvk
