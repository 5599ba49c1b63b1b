#pragma once
// Continuous batching: a fixed number of slots, each a KV cache row of its own. Requests join
// between decode steps (admit: their images encoded and their prompts prefilled together into
// free slots) and leave when they are done or cancelled (release), without stopping the
// others. Every step decodes one token for each running slot at that slot's own position,
// with its own sampling settings and stop conditions. A request gets the tokens it would get
// alone from Model::generate (same kernels per row, noise drawn per request: row 0's stream).
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/smolvlm.h"

namespace smolvk {

struct SlotSettings {
  int max_new_tokens = 64;
  SamplingParams sampling;
  bool ignore_eos = false;  // run all max_new_tokens
};

struct SlotToken {
  int slot = -1;
  int32_t id = -1;
  std::string piece;        // newly complete text (special tokens skipped; never half a character)
  std::string stop_reason;  // empty while the slot runs; "eos" or "length" with its last token
};

class BatchSession {
 public:
  // `slots` requests at once (1..96), each with up to `positions` KV positions for its prompt
  // and new tokens (0: the model's maximum). The KV cache is allocated here: kv_bytes().
  BatchSession(Model& model, int slots, int64_t positions = 0);
  ~BatchSession();
  BatchSession(const BatchSession&) = delete;
  BatchSession& operator=(const BatchSession&) = delete;

  int slots() const;
  int64_t positions() const;
  int free_slots() const;  // holding no request
  int running() const;     // holding one that has not finished
  uint64_t kv_bytes() const;

  // Prepares the requests, encodes all their images in one pass and prefills their prompts
  // into free slots (the lowest first); returns each request's first token, in order, with
  // its slot. Throws std::invalid_argument, before any GPU work, when fewer slots are free than
  // requests are given, or a request is malformed or needs more than positions() (prompt +
  // max_new_tokens); on any error (a GPU one too) none of the requests is admitted. A request
  // whose first token ends it holds its slot, finished, until released.
  std::vector<SlotToken> admit(std::span<const Request> requests, std::span<const SlotSettings> settings);

  // One decode step of every running slot: its next token (nothing when none runs).
  std::vector<SlotToken> step();

  // Frees the slot, finished or not (a cancelled request).
  void release(int slot);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace smolvk
