// The scheduler in process (apps/server/scheduler.h) on a small checkpoint: the prefill budget
// between decode steps (--max-prefill-tokens). Each token event carries the decode steps run
// before it (Event::steps), so the gap a job was admitted at is exact, whatever the timing.
#include <gtest/gtest.h>

#include <regex>

#include "apps/server/metrics.h"
#include "apps/server/scheduler.h"
#include "tests/test_util.h"

namespace smolvk::serve {
namespace {

using namespace std::chrono_literals;

TEST(AdmitCount, OldestFirstWhileTheyFitAtLeastOne) {
  const std::vector<int> q{10, 30, 5, 5};
  EXPECT_EQ(admit_count(q, 8, 0), 4u);   // no budget: as many as the free slots
  EXPECT_EQ(admit_count(q, 3, 0), 3u);
  EXPECT_EQ(admit_count(q, 8, 40), 2u);  // 10 + 30 fit; 5 more would not
  EXPECT_EQ(admit_count(q, 8, 39), 1u);  // 30 does not fit: the 5s behind it wait too (no overtaking)
  EXPECT_EQ(admit_count(q, 8, 1), 1u);   // over the budget alone: still one per gap
  EXPECT_EQ(admit_count(std::vector<int>{30, 5}, 8, 10), 1u);
  EXPECT_EQ(admit_count(q, 0, 0), 0u);  // no free slot
  EXPECT_EQ(admit_count(std::vector<int>{}, 8, 10), 0u);
}

// One job's prompt as the server prepares it (completion.cpp: Model::prepare's ids).
Job job(const Model& model, const std::string& text, int max_tokens) {
  Request r;
  r.messages.push_back({"user", {{ChatItem::Text, text}}});
  PreparedRequest p = model.prepare(r);
  Job j;
  j.prompt_tokens = int(p.input_ids.size());
  j.max_tokens = max_tokens;
  j.ignore_eos = true;
  j.request.prompt_ids = std::move(p.input_ids);
  return j;
}

std::vector<int32_t> alone(Model& model, const Job& j) {
  GenerateOptions o;
  o.max_new_tokens = j.max_tokens;
  o.ignore_eos = true;
  return model.generate(j.request, o).output_ids;
}

// A job's events until its Done (or 60 s): ids, and the steps stamp of its first token.
struct Answer {
  std::vector<int32_t> ids;
  uint64_t first_steps = ~0ull;
  std::string finish;
};
Answer collect(Stream& s) {
  Answer a;
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (a.finish.empty() && std::chrono::steady_clock::now() < until)
    for (const Event& e : s.wait(100ms)) {
      if (e.kind == Event::Token) {
        if (a.ids.empty()) a.first_steps = e.steps;
        a.ids.push_back(e.id);
      } else {
        a.finish = e.kind == Event::Done ? e.finish_reason : "failed: " + e.error;
      }
    }
  return a;
}

double metric(const Metrics& m, const std::string& name) {
  std::smatch v;
  const std::string text = m.render();
  if (!std::regex_search(text, v, std::regex("\n" + name + " ([0-9.e+-]+)"))) return -1;
  return std::stod(v[1]);
}

struct Fixture {
  std::unique_ptr<Model> model = Model::load(test::context(), test::data_dir() / "smolvlm_f32_s3");
  Metrics metrics;
};

// A burst of requests arriving while a batch decodes is admitted over several gaps under a
// small budget: oldest first, exactly as many per gap as fit (one at least), so a prompt larger
// than the budget is admitted alone and those behind it do not overtake it. Each job gets the
// ids it gets alone; the running job keeps decoding one step per gap.
TEST(SchedulerPrefillBudget, ABurstIsAdmittedOverSeveralGapsInOrder) {
  Fixture f;
  Job running = job(*f.model, "Tell me a long story about the sea.", 200);  // outlasts the burst
  // Three short prompts of one length and a long one in the middle.
  std::vector<Job> burst{job(*f.model, "question 1", 4), job(*f.model, "question 2", 5),
                         job(*f.model, "question 3 is a much longer one, with many more words in it", 3),
                         job(*f.model, "question 4", 6), job(*f.model, "question 5", 2)};
  const int p = burst[0].prompt_tokens;
  ASSERT_EQ(burst[1].prompt_tokens, p);
  ASSERT_EQ(burst[3].prompt_tokens, p);
  ASSERT_EQ(burst[4].prompt_tokens, p);
  ASSERT_GT(burst[2].prompt_tokens, 2 * p);
  std::vector<std::vector<int32_t>> want;
  for (const Job& j : burst) want.push_back(alone(*f.model, j));
  const std::vector<int32_t> want_running = alone(*f.model, running);

  SchedulerLimits limits;
  limits.max_batch = 1 + int(burst.size());
  limits.positions = 256;
  limits.join_window = 10s;  // the burst joins once it fills the free slots: all queued first
  limits.max_prefill_tokens = 2 * p;
  auto sched = make_scheduler(*f.model, limits, f.metrics);
  auto first = sched->submit(running);
  std::vector<Event> head;
  while (head.empty()) head = first->wait(10s);  // running: its first token is out
  ASSERT_EQ(head[0].kind, Event::Token);
  std::vector<std::shared_ptr<Stream>> streams;
  for (const Job& j : burst) streams.push_back(sched->submit(j));
  std::vector<Answer> got;
  for (auto& s : streams) got.push_back(collect(*s));
  Answer a = collect(*first);
  a.ids.insert(a.ids.begin(), head[0].id);
  for (size_t i = 1; i < head.size(); ++i)
    if (head[i].kind == Event::Token) a.ids.insert(a.ids.begin() + std::ptrdiff_t(i), head[i].id);

  // Gap g: jobs 0 and 1 (2p), then 2 alone (over the budget), then 3 and 4.
  const uint64_t g = got[0].first_steps;
  const std::vector<uint64_t> gaps{g, g, g + 1, g + 2, g + 2};
  for (size_t i = 0; i < burst.size(); ++i) {
    EXPECT_EQ(got[i].first_steps, gaps[i]) << "job " << i;
    EXPECT_EQ(got[i].ids, want[i]) << "job " << i;
    EXPECT_EQ(got[i].finish, "length") << "job " << i;
  }
  EXPECT_EQ(a.ids, want_running);
  EXPECT_EQ(a.finish, "length");
  EXPECT_EQ(metric(f.metrics, "smolvk_prefills_total"), 4);  // the running job's, then three gaps
  EXPECT_EQ(metric(f.metrics, "smolvk_prefill_requests_total"), 6);
  EXPECT_EQ(metric(f.metrics, "smolvk_prefill_held_total"), 2);
  EXPECT_GT(metric(f.metrics, "smolvk_decode_stall_seconds_total"), 0);
}

// Without a budget the same burst is prefilled in one gap; with one, an idle GPU still admits
// everything queued at once (nothing runs that could stall).
TEST(SchedulerPrefillBudget, NoBudgetOrAnIdleGpuAdmitsTheBurstTogether) {
  Fixture f;
  std::vector<Job> burst{job(*f.model, "question 1", 3), job(*f.model, "question 2", 4),
                         job(*f.model, "question 3", 2)};
  std::vector<std::vector<int32_t>> want;
  for (const Job& j : burst) want.push_back(alone(*f.model, j));
  for (const int budget : {0, 1}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    Metrics metrics;
    SchedulerLimits limits;
    limits.max_batch = 4;
    limits.positions = 256;
    limits.batch_window = 10s;
    limits.max_prefill_tokens = budget;
    auto sched = make_scheduler(*f.model, limits, metrics);
    std::vector<std::shared_ptr<Stream>> streams;
    {
      auto preparing = sched->preparing();  // the idle GPU's batch window waits for the burst
      for (const Job& j : burst) streams.push_back(sched->submit(j));
    }
    for (size_t i = 0; i < burst.size(); ++i) {
      const Answer a = collect(*streams[i]);
      EXPECT_EQ(a.first_steps, 0u) << "job " << i;
      EXPECT_EQ(a.ids, want[i]) << "job " << i;
    }
    EXPECT_EQ(metric(metrics, "smolvk_prefills_total"), 1);
    EXPECT_EQ(metric(metrics, "smolvk_prefill_held_total"), 0);
    EXPECT_EQ(metric(metrics, "smolvk_decode_stall_seconds_total"), 0);
  }
}

}  // namespace
}  // namespace smolvk::serve
