// Continuous batching (model/batch_session.h): requests that join a running batch between
// decode steps, leave it when done, and reuse freed slots, each get exactly the tokens that
// Model::generate gives them alone — greedy and sampled with their own settings and seeds.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "model/batch_session.h"
#include "tests/model/golden.h"

using namespace smolvk;

namespace {

Request ask(const std::string& text, const std::vector<std::string>& images = {}) {
  Request r;
  ChatMessage m{"user", {}};
  for (const auto& name : images) {
    m.content.push_back({ChatItem::Image, {}});
    r.images.push_back(load_image(test::data_dir() / "images" / name));
  }
  m.content.push_back({ChatItem::Text, text});
  r.messages.push_back(m);
  return r;
}

SlotSettings settings(int n, float temperature = 0.0f, uint64_t seed = 0) {
  SlotSettings s;
  s.max_new_tokens = n;
  s.ignore_eos = true;
  s.sampling.temperature = temperature;
  s.sampling.top_k = temperature > 0 ? 40 : 0;
  s.sampling.top_p = temperature > 0 ? 0.9f : 1.0f;
  s.sampling.seed = seed;
  return s;
}

std::vector<int32_t> alone(Model& m, const Request& r, const SlotSettings& s) {
  GenerateOptions o;
  o.max_new_tokens = s.max_new_tokens;
  o.ignore_eos = s.ignore_eos;
  o.sampling = s.sampling;
  return m.generate(r, o).output_ids;
}

}  // namespace

TEST(BatchSession, RequestsJoiningAndLeavingGetTheTokensTheyGetAlone) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  const std::vector<Request> reqs{ask("Describe the strip.", {"strip_120x40.png"}), ask("Hello there, who are you?"),
                                  ask("Tell me a story.", {}), ask("What colours?", {"strip_120x40.png"})};
  const std::vector<SlotSettings> sets{settings(7), settings(3), settings(6, 0.8f, 7), settings(5, 1.2f, 99)};
  std::vector<std::vector<int32_t>> want;
  for (size_t i = 0; i < reqs.size(); ++i) want.push_back(alone(*model, reqs[i], sets[i]));
  // The sampled requests really sample (else this would not test their settings).
  EXPECT_NE(want[2], alone(*model, reqs[2], settings(6)));
  EXPECT_NE(want[3], alone(*model, reqs[3], settings(5)));

  BatchSession session(*model, 3, 256);
  EXPECT_EQ(session.free_slots(), 3);
  std::map<int, size_t> request_of;  // slot → request
  std::vector<std::vector<int32_t>> got(reqs.size());
  const auto take = [&](const std::vector<SlotToken>& tokens) {
    for (const SlotToken& t : tokens) {
      const size_t r = request_of.at(t.slot);
      got[r].push_back(t.id);
      if (!t.stop_reason.empty()) {
        EXPECT_EQ(t.stop_reason, "length");
        session.release(t.slot);
        request_of.erase(t.slot);
      }
    }
  };
  const auto admit = [&](std::vector<size_t> which) {
    std::vector<Request> rs;
    std::vector<SlotSettings> ss;
    for (size_t i : which) {
      rs.push_back(reqs[i]);
      ss.push_back(sets[i]);
    }
    const auto first = session.admit(rs, ss);
    ASSERT_EQ(first.size(), which.size());
    for (size_t k = 0; k < which.size(); ++k) request_of[first[k].slot] = which[k];
    take(first);
  };

  admit({0, 1});  // two at once: one prefill, the image encoded with it
  EXPECT_EQ(session.running(), 2);
  take(session.step());
  admit({2});  // joins the running batch in slot 2
  EXPECT_EQ(request_of.at(2), 2u);
  while (request_of.count(1)) take(session.step());  // request 1 leaves: slot 1 is free
  EXPECT_EQ(session.free_slots(), 1);
  admit({3});  // a new request in the freed slot, between the others
  EXPECT_TRUE(request_of.count(1));
  while (session.running() > 0) take(session.step());
  EXPECT_EQ(session.free_slots(), 3);
  EXPECT_TRUE(session.step().empty());
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(got[i], want[i]) << "request " << i;
}

// Newcomers with images admitted while a decode step is in flight, with the image cache on (as
// the server runs): their encoder pass (first round: the strip encoded and kept) or the cache's
// copies of its rows (second round: found there) behind that step; pipelined and one step at a
// time, everyone gets the tokens they get alone.
TEST(BatchSession, NewcomersWithCachedImagesJoinARunningBatch) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  const std::vector<Request> reqs{ask("Tell me a story.", {}), ask("Describe the strip.", {"strip_120x40.png"}),
                                  ask("What colours?", {"strip_120x40.png"})};
  const std::vector<SlotSettings> sets{settings(10), settings(5), settings(4, 0.8f, 7)};
  std::vector<std::vector<int32_t>> want;
  for (size_t i = 0; i < reqs.size(); ++i) want.push_back(alone(*model, reqs[i], sets[i]));
  model->set_image_cache_budget(64ull << 20);
  for (const bool pipeline : {true, false}) {
    SCOPED_TRACE(pipeline ? "pipelined" : "one step at a time");
    BatchSession session(*model, 3, 256, BatchSessionOptions{pipeline});
    std::map<int, size_t> request_of;
    std::vector<std::vector<int32_t>> got(reqs.size());
    const auto take = [&](const std::vector<SlotToken>& tokens) {
      for (const SlotToken& t : tokens) {
        got[request_of.at(t.slot)].push_back(t.id);
        if (!t.stop_reason.empty()) {
          session.release(t.slot);
          request_of.erase(t.slot);
        }
      }
    };
    const auto first = session.admit(std::vector<Request>{reqs[0]}, std::vector<SlotSettings>{sets[0]});
    request_of[first[0].slot] = 0;
    take(first);
    take(session.step());  // pipelined: the next step is in flight now
    const auto joined =
        session.admit(std::vector<Request>{reqs[1], reqs[2]}, std::vector<SlotSettings>{sets[1], sets[2]});
    ASSERT_EQ(joined.size(), 2u);
    request_of[joined[0].slot] = 1;
    request_of[joined[1].slot] = 2;
    take(joined);
    while (session.running() > 0) take(session.step());
    for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(got[i], want[i]) << "request " << i;
    // First round: the strip encoded twice in one pass (neither is in the cache yet), then kept;
    // second round: both found.
    EXPECT_EQ(model->image_cache_stats().hits, pipeline ? 0u : 2u);
  }
}

TEST(BatchSession, AdmitRefusesWhatDoesNotFitBeforeAnyWork) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  BatchSession session(*model, 2, 64);
  EXPECT_EQ(session.positions(), 64);
  const Request r = ask("Hello there, who are you?");
  const int64_t prompt = int64_t(model->prepare(r).input_ids.size());
  ASSERT_LT(prompt, 60);
  // prompt + new tokens over the slot's positions
  EXPECT_THROW(session.admit(std::vector<Request>{r}, std::vector<SlotSettings>{settings(int(65 - prompt))}),
               std::invalid_argument);
  // more requests than free slots
  EXPECT_THROW(session.admit(std::vector<Request>(3, r), std::vector<SlotSettings>(3, settings(2))),
               std::invalid_argument);
  // a malformed request (an image placeholder without its image) among good ones
  Request bad = r;
  bad.messages[0].content.insert(bad.messages[0].content.begin(), {ChatItem::Image, {}});
  EXPECT_THROW(session.admit(std::vector<Request>{r, bad}, std::vector<SlotSettings>(2, settings(2))),
               std::invalid_argument);
  EXPECT_EQ(session.free_slots(), 2);
  // Still usable: a request that fits runs to its length.
  const auto first = session.admit(std::vector<Request>{r}, std::vector<SlotSettings>{settings(int(64 - prompt))});
  ASSERT_EQ(first.size(), 1u);
  int tokens = 1;
  while (session.running()) tokens += int(session.step().size());
  EXPECT_EQ(tokens, 64 - prompt);
  EXPECT_THROW(BatchSession(*model, 0, 64), std::invalid_argument);
  EXPECT_THROW(BatchSession(*model, 1, model->config().text.max_position_embeddings + 1), std::invalid_argument);
}

// Pipelined decode (BatchSessionOptions::pipeline_decode: step k + 1 submitted before step k's
// tokens are handed out) gives every request exactly the tokens, pieces and stop reasons of one
// step at a time, whatever happens between steps: requests that finish at different steps (eos,
// length), newcomers admitted into a running batch (one into the slot of a request cancelled
// while its next row was in flight), a refused admit, greedy and seeded sampling.
namespace {

struct Scripted {
  SlotSettings settings;
  Request request;
  int cancel_after = 0;  // > 0: released (cancelled) once it has this many tokens
};

struct Got {
  std::vector<int32_t> ids;
  std::string text, stop_reason;
  bool cancelled = false;
};

// Requests 0..2 start; 3 joins after request 0's 2nd token; 4 and 5 once request 1 has finished
// and request 2 is cancelled (5 into request 2's slot, whose row of the step in flight, when
// pipelined, is then dropped); 6 as soon as a slot is free again. Checks per step() call that no slot gets two
// tokens, no request gets a token after its last one or after it was released.
std::vector<Got> run_script(Model& model, const std::vector<Scripted>& reqs, bool pipeline) {
  BatchSession session(model, 4, 256, BatchSessionOptions{pipeline});
  EXPECT_EQ(session.pipelined(), pipeline);
  std::vector<Got> got(reqs.size());
  std::map<int, size_t> request_of;  // slot → request
  const auto take = [&](const std::vector<SlotToken>& tokens) {
    std::set<int> slots;
    for (const SlotToken& t : tokens) {
      EXPECT_TRUE(slots.insert(t.slot).second) << "slot " << t.slot << " twice in one step";
      ASSERT_TRUE(request_of.count(t.slot)) << "a token for free slot " << t.slot;
      const size_t r = request_of.at(t.slot);
      Got& g = got[r];
      EXPECT_TRUE(g.stop_reason.empty() && !g.cancelled) << "request " << r << " got a token after its end";
      g.ids.push_back(t.id);
      g.text += t.piece;
      g.stop_reason = t.stop_reason;
      if (!t.stop_reason.empty() || int(g.ids.size()) == reqs[r].cancel_after) {
        g.cancelled = t.stop_reason.empty();
        session.release(t.slot);  // at once, as the server does: the next step may be in flight
        request_of.erase(t.slot);
      }
    }
  };
  const auto admit = [&](std::vector<size_t> which) {
    std::vector<Request> rs;
    std::vector<SlotSettings> ss;
    for (size_t i : which) {
      rs.push_back(reqs[i].request);
      ss.push_back(reqs[i].settings);
    }
    const auto first = session.admit(rs, ss);
    ASSERT_EQ(first.size(), which.size());
    for (size_t k = 0; k < which.size(); ++k) request_of[first[k].slot] = which[k];
    take(first);
  };
  const auto slot_of = [&](size_t r) {
    for (const auto& [slot, req] : request_of)
      if (req == r) return slot;
    return -1;
  };

  admit({0, 1, 2});
  bool joined3 = false, joined45 = false, joined6 = false;
  for (int calls = 0; calls < 200 && (session.running() > 0 || !joined6); ++calls) {
    if (!joined3 && got[0].ids.size() >= 2) {
      // A request that does not fit is refused before any work, the step in flight untouched.
      EXPECT_THROW(session.admit(std::vector<Request>{reqs[3].request}, std::vector<SlotSettings>{settings(300)}),
                   std::invalid_argument);
      admit({3});
      joined3 = true;
    }
    if (!joined45 && got[2].cancelled) {
      EXPECT_EQ(got[1].stop_reason, "length");  // 3 tokens, before request 2's 5th
      EXPECT_EQ(session.free_slots(), 2);
      admit({4, 5});
      EXPECT_EQ(slot_of(4), 1);
      EXPECT_EQ(slot_of(5), 2);  // request 2's slot
      joined45 = true;
    }
    if (joined45 && !joined6 && session.free_slots() > 0) {
      admit({6});
      joined6 = true;
    }
    take(session.step());
  }
  EXPECT_TRUE(joined3 && joined45 && joined6);
  EXPECT_EQ(session.running(), 0);
  EXPECT_TRUE(session.step().empty());
  return got;
}

}  // namespace

TEST(BatchSession, PipelinedDecodeGivesTheTokensOfOneStepAtATime) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  std::vector<Scripted> reqs{
      {settings(14), ask("Describe the strip.", {"strip_120x40.png"})},
      {settings(3), ask("Hello there, who are you?")},
      {settings(30, 0.8f, 7), ask("Tell me a story.", {}), 5},  // cancelled after 5 tokens
      {settings(9, 1.2f, 99), ask("What colours?", {"strip_120x40.png"})},
      {settings(20), ask("OK")},  // greedy: eos as its 6th token (not ignored below)
      {settings(11, 0.7f, 5), ask("Count to ten.")},
      {settings(6), ask("One more?", {"strip_120x40.png"})},
  };
  reqs[4].settings.ignore_eos = false;
  std::vector<std::vector<int32_t>> alone_ids;
  for (const Scripted& r : reqs) alone_ids.push_back(alone(*model, r.request, r.settings));
  ASSERT_LT(alone_ids[4].size(), 20u);  // request 4 really ends on eos

  const std::vector<Got> stepwise = run_script(*model, reqs, false);
  const std::vector<Got> pipelined = run_script(*model, reqs, true);
  for (size_t r = 0; r < reqs.size(); ++r) {
    EXPECT_EQ(pipelined[r].ids, stepwise[r].ids) << "request " << r;
    EXPECT_EQ(pipelined[r].text, stepwise[r].text) << "request " << r;
    EXPECT_EQ(pipelined[r].stop_reason, stepwise[r].stop_reason) << "request " << r;
    EXPECT_EQ(pipelined[r].cancelled, stepwise[r].cancelled) << "request " << r;
    // And both what the request gets alone (a cancelled one: its first tokens).
    std::vector<int32_t> want = alone_ids[r];
    if (reqs[r].cancel_after) want.resize(size_t(reqs[r].cancel_after));
    EXPECT_EQ(pipelined[r].ids, want) << "request " << r;
  }
  EXPECT_TRUE(pipelined[2].cancelled);
  EXPECT_EQ(pipelined[4].stop_reason, "eos");
  EXPECT_EQ(pipelined[0].stop_reason, "length");
}

// Pipelined, step() returns with the next step already submitted: a device lost at the next
// submit shows only one step() later, after the tokens already computed are handed out; one
// step at a time, the next step() fails at once.
TEST(BatchSession, PipelinedStepIsSubmittedBeforeTheTokensAreHandedOut) {
  for (const bool pipeline : {false, true}) {
    ContextOptions o = ContextOptions::from_env();
    o.validation = true;
    o.fault.clear();
    o.on_validation_message = [](const std::string& m) { ADD_FAILURE() << "Vulkan validation: " << m; };
    Context ctx(o);
    auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
    const Request r = ask("Hello there, who are you?");
    const std::vector<int32_t> want = alone(*model, r, settings(8));
    BatchSession session(*model, 2, 64, BatchSessionOptions{pipeline});
    std::vector<int32_t> got{session.admit(std::vector<Request>{r}, std::vector<SlotSettings>{settings(8)})[0].id};
    for (int i = 0; i < 2; ++i) {
      const auto t = session.step();
      ASSERT_EQ(t.size(), 1u);
      got.push_back(t[0].id);
    }
    ctx.inject_fault(Fault::DeviceLostOnNextSubmit);
    if (pipeline) {
      const auto t = session.step();  // step 3 was in flight: its token; step 4's submit fails
      ASSERT_EQ(t.size(), 1u);
      got.push_back(t[0].id);
    }
    try {
      session.step();
      ADD_FAILURE() << "step() on a lost device did not throw";
    } catch (const GpuError& e) {
      EXPECT_TRUE(e.device_lost()) << e.what();
    }
    EXPECT_TRUE(ctx.device_lost());
    EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + std::ptrdiff_t(got.size())));
    EXPECT_EQ(got.size(), pipeline ? 4u : 3u);
    session.release(0);
  }
}

// A decode step plans its keys as Model::generate's does for the same request: for the keys
// its rows can still reach (the prompt + max_new_tokens, rounded up to 16), not a bound rounded
// up to 256 positions. A 1-row step of a short request planned for 257 keys split them in two
// (a combine pass per layer, and o_proj not folded where it is) while generate ran one split.
TEST(BatchSession, DecodeStepPlansTheKeysGenerateDoes) {
  Context& ctx = test::context();
  auto model = Model::load(ctx, test::data_dir() / "smolvlm_f32_s3");
  const Request r = ask("Hello there, who are you?");
  const int64_t prompt = int64_t(model->prepare(r).input_ids.size());
  ASSERT_LT(prompt + 8, 128);  // generate's cache (prompt + 8, rounded up to 16) is below one split's keys
  GenerateOptions o;
  o.max_new_tokens = 8;
  o.ignore_eos = true;
  o.profile = true;
  const Result alone_profiled = model->generate(r, o);
  size_t generate_dispatches = 0;
  for (const PhaseProfile& p : alone_profiled.profile)
    if (p.phase == "decode") generate_dispatches = p.dispatches.size();
  ASSERT_GT(generate_dispatches, 0u);

  for (const bool pipeline : {false, true}) {
    BatchSession session(*model, 2, 512, BatchSessionOptions{pipeline, true});
    std::vector<int32_t> got{session.admit(std::vector<Request>{r}, std::vector<SlotSettings>{settings(8)})[0].id};
    while (session.running()) {
      for (const SlotToken& t : session.step()) got.push_back(t.id);
      const BatchStepTimes& t = session.last_step_times();
      EXPECT_EQ(t.dispatches, generate_dispatches) << "pipelined " << pipeline;
      // The last position fed is prompt + 6 (the 7th step's token); the keys, rounded up to 16.
      EXPECT_EQ(t.key_bound, uint32_t((prompt + 7 + 15) / 16 * 16 - 1)) << "pipelined " << pipeline;
      EXPECT_EQ(t.programs, 1u);
      EXPECT_GE(t.wait_ms, 0.0);
    }
    EXPECT_EQ(got, alone_profiled.output_ids) << "pipelined " << pipeline;
    if (!pipeline) EXPECT_EQ(session.last_step_profile().size(), generate_dispatches);
  }
}
