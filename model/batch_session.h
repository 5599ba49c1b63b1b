#pragma once
// Continuous batching: a fixed number of slots, each a KV cache row of its own. Requests join
// between decode steps (admit: their images encoded and their prompts prefilled together into
// free slots) and leave when they are done or cancelled (release), without stopping the
// others. Every step decodes one token for each running slot at that slot's own position,
// with its own sampling settings and stop conditions. A request gets the tokens it would get
// alone from Model::generate (same kernels per row, noise drawn per request: row 0's stream).
//
// Pipelined decode (BatchSessionOptions::pipeline_decode, on by default): step() submits the
// next decode step before it hands out the tokens it read, so the caller's per-token work
// (detokenizing, stop strings, streaming) runs while the GPU decodes. The step reads its input
// ids from the device (the previous step's output) and every running slot advances by one
// position, and which slots end (eos, length) is known from the ids before the next step is
// submitted, so nothing it needs comes from the host's handling of the tokens: each request
// gets the same tokens either way. A slot released between two step() calls (a stop string, a
// cancelled request) still has a row in the step already submitted, whose token is dropped (the
// row writes only its own KV row and input id, which no one reads before the slot is prefilled
// again); that one step may then run more rows or a longer key bound than one step at a time
// would (other rows get the same tokens wherever the kernels' per-row results do not depend on
// the batch's shape, as with requests that arrive at different times). admit() first waits for
// the step in flight (its tokens come from the next step() call, ahead of the next step's);
// release() does not wait.
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

struct BatchSessionOptions {
  // Submit step k + 1 before handing out step k's tokens (see above); off: each step() submits
  // one step and waits for it.
  bool pipeline_decode = true;
  // Record decode steps with GPU timestamps (last_step_profile()); for measurements.
  bool timestamps = false;
};

// Where the host's time in the last step() call went, in milliseconds (`smolvk bench
// --batch-session` prints them), and the decode program it submitted last.
struct BatchStepTimes {
  double wait_ms = 0;     // blocked on the GPU until the step whose tokens are handed out ended
  double count_ms = 0;    // its ids read back and counted (positions, eos / length)
  double prepare_ms = 0;  // the next step: its key, the program lookup, the params words
  double record_ms = 0;   // recording a program not recorded before (0 when one was found)
  double submit_ms = 0;   // vkQueueSubmit of the next step
  double text_ms = 0;     // detokenizing the tokens handed out
  size_t dispatches = 0;  // of the decode program submitted last
  uint32_t key_bound = 0; // the key bound it was recorded for (keys it plans for: key_bound + 1)
  size_t programs = 0;    // recorded decode programs kept
};

class BatchSession {
 public:
  // `slots` requests at once (1..96), each with up to `positions` KV positions for its prompt
  // and new tokens (0: the model's maximum). The KV cache is allocated here: kv_bytes().
  BatchSession(Model& model, int slots, int64_t positions = 0, BatchSessionOptions options = {});
  // Waits for a step in flight.
  ~BatchSession();
  BatchSession(const BatchSession&) = delete;
  BatchSession& operator=(const BatchSession&) = delete;

  int slots() const;
  int64_t positions() const;
  int free_slots() const;  // holding no request
  int running() const;     // holding one whose last token step() has not handed out yet
  bool pipelined() const;  // BatchSessionOptions::pipeline_decode
  uint64_t kv_bytes() const;

  // Prepares the requests, encodes all their images in one pass and prefills their prompts
  // into free slots (the lowest first); returns each request's first token, in order, with
  // its slot. Throws std::invalid_argument, before any GPU work, when fewer slots are free than
  // requests are given, or a request is malformed or needs more than positions() (prompt +
  // max_new_tokens); on any error (a GPU one too) none of the requests is admitted. A request
  // whose first token ends it holds its slot, finished, until released. A decode step in
  // flight runs on while the images' encoder pass is recorded and queued behind it, and is
  // waited for before the prefill (its tokens are handed out by the next step()).
  std::vector<SlotToken> admit(std::span<const Request> requests, std::span<const SlotSettings> settings);

  // One decode step of every running slot: its next token, in slot order (nothing when none
  // runs). Pipelined: the tokens of the step submitted by the last call (or waited for by
  // admit()), the next step already submitted when it returns; a slot's tokens still come in
  // order, one per call, and its last one (stop_reason set) is the last it gets.
  std::vector<SlotToken> step();

  // Frees the slot, finished or not (a cancelled request). Its token of a step in flight, if
  // any, is dropped; nothing is waited for.
  void release(int slot);

  // The host's time in the last step() call (BatchStepTimes).
  const BatchStepTimes& last_step_times() const;
  // GPU time of every dispatch of the last step waited for (BatchSessionOptions::timestamps;
  // empty without). Throws std::logic_error while that program is in flight again (pipelined:
  // use it with pipeline_decode off).
  std::vector<DispatchTiming> last_step_profile() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace smolvk
