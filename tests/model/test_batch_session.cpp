// Continuous batching (model/batch_session.h): requests that join a running batch between
// decode steps, leave it when done, and reuse freed slots, each get exactly the tokens that
// Model::generate gives them alone — greedy and sampled with their own settings and seeds.
#include <gtest/gtest.h>

#include <map>

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
