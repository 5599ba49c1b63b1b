// BatchSession: slots of one KV cache [slots, Hkv, positions, D] per layer. An admitted group
// of requests is prefilled like a Model::generate batch (left-padded) into a view of its
// slots' rows; the decode step runs rows 0 .. (last running slot) with each row's position,
// step and sampling settings in the params buffer. Rows not running sit at position 0 with no
// valid key: they compute and write only their own row, which nobody reads.
//
// Pipelined (batch_session.h): a step is submitted (submit_step), waited for and its ids kept
// with the request each row belonged to (wait_step), counted (positions, steps, eos / length:
// which slots the next step runs), the next step submitted, and only then are the tokens
// detokenized and handed out. One recorded program per key is enough: a step is always waited
// for before the next is submitted, so no program's params or read-back are rewritten in
// flight; the GPU runs step k + 1 while the host hands out step k's tokens.
#include "model/batch_session.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>

#include "model/graphs.h"
#include "model/model_impl.h"
#include "model/ops/splice.h"

namespace smolvk {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point& t) {
  const auto now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - t).count();
  t = now;
  return ms;
}

// The decode step is recorded for keys up to a bound rounded up to this, so that it is
// re-recorded once every this many steps at most while the splits stay sized to the context;
// or up to the running rows' last position (rounded up to kKeyEndStep) when that is lower.
constexpr int64_t kKeyBoundStep = 256;
constexpr int64_t kKeyEndStep = 16;
constexpr int kMaxSlots = int(Graph::kParamWords - param::kRowSteps);
// Recorded decode steps kept (one per rows in use, key bound and sampling mix seen lately).
constexpr size_t kMaxDecodePrograms = 128;

ops::SamplingParams to_ops(const SamplingParams& s) { return {s.temperature, s.top_k, s.top_p, s.seed}; }
}  // namespace

struct BatchSession::State {
  Model& model;
  Model::Impl& I;
  int slots = 0;
  bool pipeline = true, timestamps = false;
  BatchStepTimes times;  // of the last step() call
  Program* last_waited = nullptr;  // the program of the last step waited for
  KvCache kv;
  Buffer next_ids, kv_start, logits;
  struct Slot {
    bool used = false, running = false;
    int64_t pos = 0;  // cache slot (= position) of the token fed next
    int tokens = 0;   // generated so far
    uint64_t request = 0;  // which admitted request holds it (0: none), so a row's token goes
                           // only to the request it was computed for
    SlotSettings settings;
    std::unique_ptr<StreamDecoder> decoder;
  };
  std::vector<Slot> slot;
  // Recorded decode steps by (rows, key bound, each row's sampling settings): requests come
  // and go, and the same shapes come back.
  std::map<std::string, Program> decode_programs;
  uint64_t requests = 0;  // admitted so far (Slot::request)

  // A row of a decode step: the slot and the request it ran for.
  struct Row {
    int slot;
    uint64_t request;
  };
  // The decode step submitted and not yet waited for.
  struct InFlight {
    Program* program;
    std::vector<Row> rows;  // the running slots
  };
  std::optional<InFlight> in_flight;
  // Ids of a step that was waited for (wait_step), not yet counted: each with its row.
  std::vector<std::pair<Row, int32_t>> computed;

  explicit State(Model& m) : model(m), I(m.impl()) {}

  // Counts token `id` of slot b; returns why it ends the request ("" while it runs).
  std::string count(int b, int32_t id) {
    Slot& s = slot[size_t(b)];
    ++s.tokens;
    const auto& stop = I.stop_ids;
    std::string reason;
    if (!s.settings.ignore_eos && std::find(stop.begin(), stop.end(), id) != stop.end())
      reason = "eos";
    else if (s.tokens >= s.settings.max_new_tokens)
      reason = "length";
    if (!reason.empty()) s.running = false;
    return reason;
  }

  // A counted token of slot b with its text piece (the decoder's last bytes with the last token).
  SlotToken text(int b, int32_t id, std::string stop_reason) {
    Slot& s = slot[size_t(b)];
    SlotToken t{b, id, s.decoder->feed(id), std::move(stop_reason)};
    if (!t.stop_reason.empty()) t.piece += s.decoder->flush();
    return t;
  }

  // Token `id` of slot b: its text piece, and whether it ends the request.
  SlotToken take(int b, int32_t id) {
    std::string reason = count(b, id);
    return text(b, id, std::move(reason));
  }

  // Submits a decode step of every running slot (none running: false). Nothing may be in flight.
  bool submit_step();

  // Waits for the step in flight (if any) and keeps its ids in `computed`.
  void wait_step() {
    if (!in_flight) return;
    const InFlight f = std::move(*in_flight);
    in_flight.reset();  // waited for, or failed: either way no longer in flight
    auto t = Clock::now();
    f.program->wait();
    last_waited = f.program;
    times.wait_ms += ms_since(t);
    const auto back = f.program->read_back();
    for (const Row& r : f.rows) {
      int32_t id = 0;
      std::memcpy(&id, back.data() + size_t(r.slot) * 4, 4);
      computed.push_back({r, id});
    }
    times.count_ms += ms_since(t);
  }

  // Rows first .. first + n − 1 of the session's cache.
  KvCache rows(int64_t first, int64_t n) const {
    KvCache v;
    v.batch = n;
    v.capacity = kv.capacity;
    const uint64_t row_bytes = kv.k[0].buffer.size() / uint64_t(kv.batch);
    for (size_t i = 0; i < kv.k.size(); ++i) {
      auto shape = kv.k[i].shape;
      shape[0] = n;
      v.k.push_back({kv.k[i].buffer, DType::F32, shape, uint64_t(first) * row_bytes});
      v.v.push_back({kv.v[i].buffer, DType::F32, shape, uint64_t(first) * row_bytes});
    }
    return v;
  }

  // Encodes and prefills `reqs` into slots first .. first + n − 1.
  std::vector<SlotToken> prefill(int first, std::span<const Request> reqs, std::span<const SlotSettings> settings,
                                 const std::vector<PreparedRequest>& prepared) {
    const int64_t n = int64_t(reqs.size());
    GenerateOptions o;
    o.max_new_tokens = 1;
    for (const auto& s : settings) o.max_new_tokens = std::max(o.max_new_tokens, s.max_new_tokens);
    const Model::Impl::Layout L = I.layout(reqs, prepared, nullptr, 0, o);
    if (L.T + o.max_new_tokens > kv.capacity)
      throw std::invalid_argument("requests of " + std::to_string(L.T) + " prompt tokens + " +
                                  std::to_string(o.max_new_tokens) + " new tokens do not fit a slot of " +
                                  std::to_string(kv.capacity) + " positions");
    std::vector<const PreparedRequest*> ptrs;
    for (const auto& p : prepared) ptrs.push_back(&p);
    // The encoder's last pass is left running: the prefill is recorded meanwhile and queued
    // behind it. A decode step in flight reads and writes next_ids and rows of the cache (free
    // ones too, which the prefill is about to fill): the encoder's passes, which touch neither,
    // are recorded and queued behind it while it runs, and it is waited for only then (its ids
    // are counted by the next step()).
    const Model::Impl::Encoded enc = I.encode(ptrs, nullptr, nullptr, true);
    wait_step();
    std::vector<int32_t> targets;
    if (enc.tiles)
      targets = ops::image_token_targets(L.ids, int32_t(I.config.image_token_id), enc.tiles * I.config.image_seq_len());
    else
      ops::image_token_targets(L.ids, int32_t(I.config.image_token_id), 0);  // placeholders need images

    Context& ctx = I.ctx;
    const int64_t V = I.config.text.vocab_size;
    const std::vector<Buffer> in = upload_vectors(
        ctx, {bytes_of(L.ids), bytes_of(L.positions), bytes_of(L.kv_start), bytes_of(L.last_rows), bytes_of(targets)});
    Model::Impl::RunBuffers rb{in[0], in[1], in[2], in[3], in[4], ctx.create_buffer(uint64_t(n * V) * 4),
                               ctx.create_buffer(uint64_t(n) * 4), {}};
    std::vector<ops::SamplingParams> sampling;
    for (const auto& s : settings) sampling.push_back(to_ops(s.sampling));
    const KvCache view = rows(first, n);
    Program p = I.record_prefill(L, rb, enc, int64_t(targets.size()), view, I.rope_for(kv.capacity), 0, sampling[0],
                                 false, &sampling);
    for (int64_t b = 0; b < n; ++b) p.set_param(param::kRowSteps + uint32_t(b), 0);
    p.run();
    std::vector<int32_t> ids(static_cast<size_t>(n));
    std::memcpy(ids.data(), p.read_back().data(), uint64_t(n) * 4);
    // The rows' first keys and first tokens, where the decode step reads them.
    ctx.upload(kv_start, L.kv_start.data(), uint64_t(n) * 4, uint64_t(first) * 4);
    ctx.upload(next_ids, ids.data(), uint64_t(n) * 4, uint64_t(first) * 4);

    std::vector<SlotToken> out;
    for (int64_t b = 0; b < n; ++b) {
      Slot& s = slot[size_t(first + b)];
      s = Slot{true, true, L.T, 0, ++requests, settings[size_t(b)],
               std::make_unique<StreamDecoder>(I.tokenizer, true)};
      out.push_back(take(int(first + b), ids[size_t(b)]));
    }
    return out;
  }
};

BatchSession::BatchSession(Model& model, int slots, int64_t positions, BatchSessionOptions options)
    : s_(std::make_unique<State>(model)) {
  s_->pipeline = options.pipeline_decode;
  s_->timestamps = options.timestamps;
  const auto& t = model.config().text;
  if (slots < 1 || slots > kMaxSlots)
    throw std::invalid_argument("a batch session takes 1.." + std::to_string(kMaxSlots) + " slots, got " +
                                std::to_string(slots));
  if (positions <= 0) positions = t.max_position_embeddings;
  if (positions > t.max_position_embeddings)
    throw std::invalid_argument("positions per slot " + std::to_string(positions) + " exceed the model's " +
                                std::to_string(t.max_position_embeddings));
  // A multiple of 16: each slot's rows then start at a 256-byte aligned offset for any head dim.
  positions = (positions + 15) / 16 * 16;
  Context& ctx = model.context();
  s_->slots = slots;
  s_->kv = make_kv_cache(ctx, model.config(), slots, positions);
  s_->slot.resize(size_t(slots));
  // Rows that never ran still feed a token id to the embedding (a valid one) and see no key
  // (their first key 1 is past their position 0).
  s_->next_ids = upload_vector(ctx, std::vector<int32_t>(size_t(slots), 0));
  s_->kv_start = upload_vector(ctx, std::vector<int32_t>(size_t(slots), 1));
  s_->logits = ctx.create_buffer(uint64_t(slots) * uint64_t(t.vocab_size) * 4);
}

BatchSession::~BatchSession() {
  if (s_ && s_->in_flight) try {
      s_->wait_step();
    } catch (...) {  // a lost device: nothing left to wait for
    }
}

int BatchSession::slots() const { return s_->slots; }
int64_t BatchSession::positions() const { return s_->kv.capacity; }
int BatchSession::free_slots() const {
  return int(std::count_if(s_->slot.begin(), s_->slot.end(), [](const State::Slot& s) { return !s.used; }));
}
int BatchSession::running() const {
  return int(std::count_if(s_->slot.begin(), s_->slot.end(), [](const State::Slot& s) { return s.running; }));
}
bool BatchSession::pipelined() const { return s_->pipeline; }
uint64_t BatchSession::kv_bytes() const {
  uint64_t b = 0;
  for (size_t i = 0; i < s_->kv.k.size(); ++i) b += s_->kv.k[i].buffer.size() + s_->kv.v[i].buffer.size();
  return b;
}

std::vector<SlotToken> BatchSession::admit(std::span<const Request> requests, std::span<const SlotSettings> settings) {
  State& S = *s_;
  if (requests.size() != settings.size())
    throw std::invalid_argument("admit: " + std::to_string(requests.size()) + " requests but " +
                                std::to_string(settings.size()) + " settings");
  if (int(requests.size()) > free_slots())
    throw std::invalid_argument("admit: " + std::to_string(requests.size()) + " requests but " +
                                std::to_string(free_slots()) + " free slots");
  // Everything that can be refused is checked before any GPU work.
  std::vector<PreparedRequest> prepared;
  for (size_t i = 0; i < requests.size(); ++i) {
    const Request& r = requests[i];
    if (!r.input_embeds.empty())
      throw std::invalid_argument("admit: generation from input embeddings is not batched (use Model::generate)");
    if (settings[i].max_new_tokens < 1) throw std::invalid_argument("max_new_tokens must be at least 1");
    prepared.push_back(S.model.prepare_borrowing(r));
    const int64_t need = int64_t(prepared.back().input_ids.size()) + settings[i].max_new_tokens;
    if (need > S.kv.capacity)
      throw std::invalid_argument("request " + std::to_string(i) + ": " +
                                  std::to_string(prepared.back().input_ids.size()) + " prompt tokens + " +
                                  std::to_string(settings[i].max_new_tokens) + " new tokens exceed the " +
                                  std::to_string(S.kv.capacity) + " positions of a slot");
  }
  // The lowest free slots, prefilled run by run of neighbouring slots (one cache view each;
  // the first run's prefill waits for a decode step in flight).
  std::vector<int> free;
  for (int b = 0; b < S.slots && free.size() < requests.size(); ++b)
    if (!S.slot[size_t(b)].used) free.push_back(b);
  std::vector<SlotToken> out;
  try {
    for (size_t i = 0; i < free.size();) {
      size_t j = i + 1;
      while (j < free.size() && free[j] == free[j - 1] + 1) ++j;
      std::vector<PreparedRequest> group(std::make_move_iterator(prepared.begin() + std::ptrdiff_t(i)),
                                         std::make_move_iterator(prepared.begin() + std::ptrdiff_t(j)));
      auto t = S.prefill(free[i], requests.subspan(i, j - i), settings.subspan(i, j - i), group);
      out.insert(out.end(), std::make_move_iterator(t.begin()), std::make_move_iterator(t.end()));
      i = j;
    }
  } catch (...) {
    for (const SlotToken& t : out) release(t.slot);  // all or nothing: a later run's failure
    throw;
  }
  return out;
}

bool BatchSession::State::submit_step() {
  State& S = *this;
  if (S.in_flight) throw std::logic_error("BatchSession: a decode step is already in flight");
  auto t = Clock::now();
  int64_t rows = 0, max_pos = 0, max_end = 0;
  for (int b = 0; b < S.slots; ++b)
    if (const Slot& s = S.slot[size_t(b)]; s.running) {
      rows = b + 1;
      max_pos = std::max(max_pos, s.pos);
      // The last position this row can be fed at: one per token still to come (a running row
      // has at least one to come).
      max_end = std::max(max_end, s.pos + std::max(s.settings.max_new_tokens - s.tokens, 1) - 1);
    }
  if (rows == 0) return false;
  std::vector<ops::SamplingParams> sampling(size_t(rows), ops::SamplingParams{0.0f, 0, 1.0f, 0});
  for (int64_t b = 0; b < rows; ++b)
    if (S.slot[size_t(b)].running && ops::samples(to_ops(S.slot[size_t(b)].settings.sampling)))
      sampling[size_t(b)] = to_ops(S.slot[size_t(b)].settings.sampling);
  // Keys past the longest context are never read: the bound keeps the key splits sized to it
  // (re-recorded once every kKeyBoundStep positions). Nor keys past the running rows' last
  // position: Model::generate plans its decode step for the keys its request ends with (its
  // cache, the prompt + max_new_tokens rounded up to 16), and so does this step when that is
  // lower. The bound stays the same over the steps of one set of rows (each row's position
  // grows as its tokens to come shrink). A bound planned for more keys than the rows ever
  // reach would split the keys where generate does not (e.g. a 1-row step over positions
  // < 256 planned for 257 keys: 2 splits, a combine pass and o_proj unfolded in every layer).
  const int64_t end_bound = (max_end + 1 + kKeyEndStep - 1) / kKeyEndStep * kKeyEndStep - 1;
  const uint32_t bound = uint32_t(
      std::min({(max_pos / kKeyBoundStep + 1) * kKeyBoundStep, end_bound, S.kv.capacity - 1}));
  std::string key = std::to_string(rows) + "/" + std::to_string(bound);
  for (const auto& p : sampling) {
    if (p.temperature <= 0) {
      key += "/g";
      continue;
    }
    uint32_t t = 0, q = 0;  // the floats' bits: equal keys mean equal settings
    std::memcpy(&t, &p.temperature, 4);
    std::memcpy(&q, &p.top_p, 4);
    key += "/" + std::to_string(t) + "," + std::to_string(p.top_k) + "," + std::to_string(q) + "," +
           std::to_string(p.seed);
  }
  auto it = S.decode_programs.find(key);
  S.times.prepare_ms += ms_since(t);
  if (it == S.decode_programs.end()) {
    if (S.decode_programs.size() >= kMaxDecodePrograms) {
      S.decode_programs.clear();
      S.last_waited = nullptr;
    }
    Model::Impl::RunBuffers rb;  // the decode step reads and writes rows 0 .. rows − 1 of these
    rb.next_ids = S.next_ids;
    rb.kv_start = S.kv_start;
    rb.logits = S.logits;
    it = S.decode_programs
             .emplace(key, S.I.record_decode_step(rows, rb, S.rows(0, rows), S.I.rope_for(S.kv.capacity), sampling[0],
                                                  S.timestamps, &sampling, bound))
             .first;
    S.times.record_ms += ms_since(t);
  }
  Program& decode = it->second;
  for (int64_t b = 0; b < rows; ++b) {
    const State::Slot& s = S.slot[size_t(b)];
    decode.set_param(param::kPositions + uint32_t(b), s.running ? uint32_t(s.pos) : 0u);
    decode.set_param(param::kRowSteps + uint32_t(b), s.running ? uint32_t(s.tokens) : 0u);
  }
  decode.set_param(param::kStep, 0);
  InFlight f{&decode, {}};
  for (int b = 0; b < int(rows); ++b)
    if (S.slot[size_t(b)].running) f.rows.push_back({b, S.slot[size_t(b)].request});
  S.times.prepare_ms += ms_since(t);
  decode.submit();
  S.times.submit_ms += ms_since(t);
  S.times.dispatches = decode.dispatch_count();
  S.times.key_bound = bound;
  S.times.programs = S.decode_programs.size();
  S.in_flight = std::move(f);
  return true;
}

std::vector<SlotToken> BatchSession::step() {
  State& S = *s_;
  {
    const BatchStepTimes last = S.times;
    S.times = {};
    S.times.dispatches = last.dispatches;
    S.times.key_bound = last.key_bound;
    S.times.programs = last.programs;
  }
  for (;;) {
    if (!S.in_flight && S.computed.empty() && !S.submit_step()) return {};
    S.wait_step();
    // Count the tokens first: they decide which slots the next step runs, and where.
    struct Counted {
      int slot;
      int32_t id;
      std::string stop_reason;
    };
    std::vector<Counted> counted;
    auto t_count = Clock::now();
    for (const auto& [row, id] : S.computed) {
      State::Slot& s = S.slot[size_t(row.slot)];
      if (!s.running || s.request != row.request) continue;  // released since (a finished row)
      ++s.pos;
      counted.push_back({row.slot, id, S.count(row.slot, id)});
    }
    S.computed.clear();
    S.times.count_ms += ms_since(t_count);
    if (S.pipeline) {
      try {
        S.submit_step();  // runs while the tokens below are detokenized and handled
      } catch (...) {
        // These tokens are good: the next step() submits again (and throws the error then).
      }
    }
    std::vector<SlotToken> out;
    auto t = Clock::now();
    for (Counted& c : counted) out.push_back(S.text(c.slot, c.id, std::move(c.stop_reason)));
    S.times.text_ms += ms_since(t);
    // All its rows released meanwhile: the step submitted just now has the running slots' tokens.
    if (!out.empty() || !S.in_flight) return out;
  }
}

void BatchSession::release(int slot) {
  if (slot < 0 || slot >= s_->slots) throw std::invalid_argument("release: no slot " + std::to_string(slot));
  s_->slot[size_t(slot)] = State::Slot{};
}

const BatchStepTimes& BatchSession::last_step_times() const { return s_->times; }

std::vector<DispatchTiming> BatchSession::last_step_profile() const {
  if (!s_->last_waited) return {};
  if (s_->in_flight && s_->in_flight->program == s_->last_waited)
    throw std::logic_error("BatchSession::last_step_profile: that step's program is in flight again (pipelined)");
  return s_->last_waited->timings();
}

}  // namespace smolvk
