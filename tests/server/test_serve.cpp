// smolvk-serve end to end on the demo checkpoint: the built binary on a free loopback port,
// spoken to over HTTP (cpp-httplib's client), its answers checked against `smolvk run --json`.
#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <regex>
#include <set>

#include "tests/server/serve_util.h"
#include "tests/test_util.h"

namespace smolvk::test {
namespace {

const fs::path kImage = examples_dir() / "gradient_shapes_320x240.png";

json image_then_text(const std::string& text, int max_tokens) {
  return {
      {"messages",
       {{{"role", "user"},
         {"content",
          {{{"type", "image_url"}, {"image_url", {{"url", data_url(kImage)}}}}, {{"type", "text"}, {"text", text}}}}}}},
      {"max_tokens", max_tokens}};
}

std::vector<int32_t> ids_of(const json& response) {
  return response["smolvk"]["token_ids"].get<std::vector<int32_t>>();
}

TEST(Serve, HealthModelsAndMetrics) {
  ServerProcess s({"--model-id", "demo"});
  auto c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  const json models = parse_json(m->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "demo");
  EXPECT_EQ(chat(s, user_text("hi", 3)).first, 200);
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Every line is a comment or `name{labels} value` with a number.
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_]+="[^"]*"(,[a-zA-Z_]+="[^"]*")*\})? -?([0-9.eE+-]+|\+Inf|NaN)$)");
  std::istringstream in(r->body);
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  for (const char* n :
       {"smolvk_requests_total", "smolvk_prompt_tokens_total", "smolvk_completion_tokens_total",
        "smolvk_time_to_first_token_seconds_bucket", "smolvk_inter_token_seconds_bucket", "smolvk_queue_depth",
        "smolvk_batch_occupancy", "smolvk_kv_cache_bytes", "smolvk_image_cache_bytes"})
    EXPECT_TRUE(names.count(n)) << n << " missing from\n" << r->body;
  EXPECT_NE(r->body.find("smolvk_requests_total{code=\"200\"}"), std::string::npos);
  EXPECT_NE(r->body.find("smolvk_completion_tokens_total 3"), std::string::npos) << r->body;
}

TEST(Serve, SameTokenIdsAsCliRunStreamedAndNot) {
  ServerProcess s({});
  const json cli = run_cli_json("--image " + kImage.string() +
                           " --prompt 'What shapes?' --max-new-tokens 6 "
                           "--temperature 0.8 --top-k 40 --seed 7");
  json body = image_then_text("What shapes?", 6);
  body["temperature"] = 0.8;
  body["top_k"] = 40;
  body["seed"] = 7;
  const auto [status, whole] = chat(s, body);
  ASSERT_EQ(status, 200) << whole.dump();
  EXPECT_EQ(ids_of(whole), cli["output_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(whole["choices"][0]["message"]["content"], cli["text"]);
  EXPECT_EQ(whole["usage"]["prompt_tokens"], cli["input_ids"].size());
  EXPECT_EQ(whole["usage"]["completion_tokens"], 6);
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "length");
  body["stream_options"] = {{"include_usage", true}};
  const Streamed st = chat_stream(s, body);
  EXPECT_EQ(st.status, 200);
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.ids, cli["output_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(st.text, cli["text"]);
  EXPECT_EQ(st.finish_reason, "length");
  EXPECT_EQ(st.usage["completion_tokens"], 6);
}

TEST(Serve, DoclingShapedRequest) {
  ServerProcess s({});
  // As docling's picture description posts it: the text part before the image part.
  const json body = {{"model", "HuggingFaceTB/SmolVLM-256M-Instruct"},
                     {"max_completion_tokens", 5},
                     {"messages",
                      {{{"role", "user"},
                        {"content",
                         {{{"type", "text"}, {"text", "Describe this image in a few sentences."}},
                          {{"type", "image_url"}, {"image_url", {{"url", data_url(kImage)}}}}}}}}}};
  const auto [status, r] = chat(s, body);
  ASSERT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_TRUE(r["choices"][0]["message"]["content"].is_string());
  EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), 64);  // the image's tokens are in the prompt
  EXPECT_LE(r["usage"]["completion_tokens"].get<int>(), 5);
}

// A second question about the same image takes the encoder output from the image cache
// (--image-cache-mb, on by default): /metrics counts one miss, then one hit. (That a cached
// answer is the uncached one: SameTokenIdsAsCliRunStreamedAndNot, whose streamed request is
// a hit, against `smolvk run`.)
TEST(Serve, ImageCacheAnswersTheSecondQuestionWithoutTheEncoder) {
  ServerProcess s({});
  ASSERT_EQ(chat(s, image_then_text("What shapes?", 2)).first, 200);
  auto m = s.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("smolvk_image_cache_misses_total 1\n"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("smolvk_image_cache_hits_total 0\n"), std::string::npos) << m->body;
  ASSERT_EQ(chat(s, image_then_text("Which colours?", 2)).first, 200);
  m = s.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("smolvk_image_cache_misses_total 1\n"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("smolvk_image_cache_hits_total 1\n"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("smolvk_image_cache_entries 1\n"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("smolvk_image_cache_budget_bytes 268435456\n"), std::string::npos) << m->body;
}

TEST(Serve, StopStringsAreCutAndEndTheAnswer) {
  ServerProcess s({});
  json body = user_text("count", 12);
  body["ignore_eos"] = true;
  const auto [status, plain] = chat(s, body);
  ASSERT_EQ(status, 200);
  const std::string text = plain["choices"][0]["message"]["content"];
  // A letter after the start (the demo model's answers are random bytes) is the stop string.
  size_t at = 1;
  while (at < text.size() && !std::isalpha(static_cast<unsigned char>(text[at]))) ++at;
  ASSERT_LT(at, text.size()) << text;
  const std::string stop(1, text[at]);
  body["stop"] = {stop, "never in the answer"};
  const auto [status2, stopped] = chat(s, body);
  ASSERT_EQ(status2, 200);
  EXPECT_EQ(stopped["choices"][0]["message"]["content"], text.substr(0, text.find(stop)));
  EXPECT_EQ(stopped["choices"][0]["finish_reason"], "stop");
  EXPECT_LT(stopped["usage"]["completion_tokens"].get<int>(), 12);
  const Streamed st = chat_stream(s, body);
  EXPECT_EQ(st.text, stopped["choices"][0]["message"]["content"]);
  EXPECT_EQ(st.finish_reason, "stop");
}

// Different prompts at once are batched; each row's greedy ids equal what it gets alone. On a
// checkpoint with clear greedy margins: which requests share a decode step depends on arrival
// timing, and the batch's row count picks the mat-vec kernel (its summation order), so the
// demo's random weights, with near-ties, could flip a token now and then.
TEST(Serve, SixteenConcurrentStreamsGetTheirIdsAlone) {
  ServerProcess s({"--max-batch", "16", "--model", (test::data_dir() / "smolvlm_f32_s3").string()});
  std::vector<json> bodies;
  std::vector<std::vector<int32_t>> alone;
  for (int i = 0; i < 16; ++i) {
    bodies.push_back(user_text("prompt number " + std::to_string(i) + std::string(size_t(i), '!'), 3));
    bodies.back()["ignore_eos"] = true;
    const auto [status, r] = chat(s, bodies.back());
    ASSERT_EQ(status, 200);
    alone.push_back(ids_of(r));
  }
  std::vector<Streamed> got(16);
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) clients.emplace_back([&, i] { got[size_t(i)] = chat_stream(s, bodies[size_t(i)]); });
  for (auto& t : clients) t.join();
  for (int i = 0; i < 16; ++i) {
    EXPECT_TRUE(got[size_t(i)].done) << i;
    EXPECT_EQ(got[size_t(i)].ids, alone[size_t(i)]) << "client " << i;
  }
  auto m = s.client().Get("/metrics");
  ASSERT_TRUE(m);
  // Some batch ran more than one row.
  std::smatch one, all;
  ASSERT_TRUE(std::regex_search(m->body, one, std::regex(R"(smolvk_batch_rows_bucket\{le="1"\} (\d+))")));
  ASSERT_TRUE(std::regex_search(m->body, all, std::regex(R"(smolvk_batch_rows_count (\d+))")));
  EXPECT_LT(std::stoi(one[1]), std::stoi(all[1])) << m->body;
}

// --pipeline-decode 0 (one decode step at a time) and the default (each step submitted before
// the last one's tokens are detokenized and streamed) give concurrent clients the same answers:
// greedy and seeded sampling, different lengths, a stop string (its slot released while the
// next step, with its row, is already on the GPU), a client that hangs up mid-stream.
TEST(Serve, PipelinedDecodeGivesTheSameAnswersAsOneStepAtATime) {
  const std::string model = (test::data_dir() / "smolvlm_f32_s3").string();
  std::vector<json> bodies;
  for (int i = 0; i < 6; ++i) {
    bodies.push_back(user_text("question " + std::to_string(i) + std::string(size_t(i), '?'), 5 + 3 * i));
    bodies.back()["ignore_eos"] = true;
  }
  bodies[1]["temperature"] = 0.9;
  bodies[1]["top_k"] = 40;
  bodies[1]["seed"] = 11;
  bodies[3]["temperature"] = 1.3;
  bodies[3]["seed"] = 5;
  const size_t kStopped = 4, kHangsUp = 5;
  const int kHangUpAfter = 3;
  std::vector<std::vector<Streamed>> runs;
  for (const char* pipeline : {"0", "1"}) {
    ServerProcess s({"--max-batch", "8", "--model", model, "--pipeline-decode", pipeline});
    if (!bodies[kStopped].contains("stop")) {
      // A character that first shows up after the start of request 4's answer: its stop string.
      const auto [status, r] = chat(s, bodies[kStopped]);
      ASSERT_EQ(status, 200);
      const std::string text = r["choices"][0]["message"]["content"];
      std::string stop;
      for (size_t at = 1; at < text.size() && stop.empty(); ++at)
        if (std::isgraph(static_cast<unsigned char>(text[at])) && text.find(text[at]) == at) stop = text.substr(at, 1);
      ASSERT_FALSE(stop.empty()) << text;
      bodies[kStopped]["stop"] = stop;
    }
    std::vector<Streamed> got(bodies.size());
    std::vector<std::thread> clients;
    for (size_t i = 0; i < bodies.size(); ++i)
      clients.emplace_back([&, i] { got[i] = chat_stream(s, bodies[i], i == kHangsUp ? kHangUpAfter : 0); });
    for (auto& t : clients) t.join();
    runs.push_back(std::move(got));
  }
  for (size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_EQ(runs[1][i].ids, runs[0][i].ids) << "client " << i;
    EXPECT_EQ(runs[1][i].text, runs[0][i].text) << "client " << i;
    EXPECT_EQ(runs[1][i].finish_reason, runs[0][i].finish_reason) << "client " << i;
    EXPECT_EQ(runs[1][i].done, i != kHangsUp) << "client " << i;
  }
  EXPECT_EQ(runs[1][kStopped].finish_reason, "stop");
  EXPECT_LT(runs[1][kStopped].ids.size(), size_t(bodies[kStopped]["max_tokens"].get<int>()));
  EXPECT_EQ(runs[1][kHangsUp].ids.size(), size_t(kHangUpAfter));
  EXPECT_EQ(runs[1][0].ids.size(), 5u);
  EXPECT_EQ(runs[1][2].finish_reason, "length");
}

TEST(Serve, DisconnectMidStreamDoesNotBreakOthers) {
  ServerProcess s({"--max-batch", "4"});
  json body = user_text("a long answer", 10);
  body["ignore_eos"] = true;
  const auto [status, alone] = chat(s, body);
  ASSERT_EQ(status, 200);
  std::vector<Streamed> got(3);
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) clients.emplace_back([&, i] { got[size_t(i)] = chat_stream(s, body, i == 1 ? 2 : 0); });
  for (auto& t : clients) t.join();
  EXPECT_EQ(got[0].ids, ids_of(alone));
  EXPECT_EQ(got[2].ids, ids_of(alone));
  EXPECT_EQ(got[1].ids.size(), 2u);
  EXPECT_FALSE(got[1].done);
  // The server noticed and still answers.
  EXPECT_EQ(chat(s, user_text("still there?", 2)).first, 200);
  auto m = s.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body.find("smolvk_cancelled_requests_total 0"), std::string::npos) << m->body;
}

TEST(Serve, QueueOverflowGives429WithRetryAfter) {
  ServerProcess s({"--max-batch", "1", "--max-queue", "1"});
  json longer = user_text("running", 400);
  longer["ignore_eos"] = true;
  Streamed running, queued;
  std::thread a([&] { running = chat_stream(s, longer, 30); });
  // Wait until the first request is on the GPU.
  for (int i = 0; i < 600; ++i) {
    auto m = s.client().Get("/metrics");
    if (m && m->body.find("smolvk_running_requests 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::thread b([&] { queued = chat_stream(s, user_text("queued", 2)); });
  for (int i = 0; i < 600; ++i) {
    auto m = s.client().Get("/metrics");
    if (m && m->body.find("smolvk_queue_depth 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto r = s.client().Post("/v1/chat/completions", user_text("one too many", 2).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(parse_json(r->body)["error"]["type"], "rate_limit_error");
  a.join();
  b.join();
  EXPECT_TRUE(queued.done);  // the queued one ran once the first client hung up
  EXPECT_EQ(running.ids.size(), 30u);
}

// While a batch decodes, newcomers wait up to --join-window-ms to be prefilled together (the
// running requests then stall once per group): as many as the free slots go at once, and one
// alone waits out the window, or the batch, whichever ends first.
TEST(Serve, NewcomersJoinARunningBatchTogether) {
  ServerProcess s({"--max-batch", "4", "--join-window-ms", "10000"});
  json longer = user_text("running", 200);
  longer["ignore_eos"] = true;
  const auto metric = [&](const std::string& name) {
    auto m = s.client().Get("/metrics");
    std::smatch v;
    if (!m || !std::regex_search(m->body, v, std::regex("\n" + name + " (\\d+)"))) return -1;
    return std::stoi(v[1]);
  };
  const auto wait_running = [&] {
    for (int i = 0; i < 600 && metric("smolvk_running_requests") != 1; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };

  Streamed a;
  std::thread ta([&] { a = chat_stream(s, longer); });
  wait_running();
  std::vector<Streamed> joined(3);  // the 3 free slots' worth: admitted as soon as all are queued
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i)
    clients.emplace_back([&, i] { joined[size_t(i)] = chat_stream(s, user_text("joining " + std::to_string(i), 2)); });
  for (auto& t : clients) t.join();
  ta.join();
  ASSERT_TRUE(a.done);
  EXPECT_EQ(a.ids.size(), 200u);
  for (const Streamed& j : joined) {
    EXPECT_TRUE(j.done);
    EXPECT_EQ(j.ids.size(), 2u);
    EXPECT_LT(j.first_token, a.last_token);  // they joined the running batch
  }
  EXPECT_EQ(metric("smolvk_prefills_total"), 2);  // the first request, then the three together
  EXPECT_EQ(metric("smolvk_prefill_requests_total"), 4);

  Streamed b, c;
  std::thread tb([&] { b = chat_stream(s, longer); });
  wait_running();
  c = chat_stream(s, user_text("alone", 2));  // 1 of 3 free slots: waits for the window or the batch
  tb.join();
  ASSERT_TRUE(b.done && c.done);
  EXPECT_GT(c.first_token, b.last_token);
  EXPECT_EQ(metric("smolvk_prefills_total"), 4);
}

// --max-prefill-tokens 1: while a batch decodes, newcomers that would be prefilled together are
// admitted one per gap between decode steps, in arrival order, each with the ids it gets alone;
// the running request stalls once per newcomer, and /metrics counts the held gaps.
TEST(Serve, MaxPrefillTokensAdmitsNewcomersOneGapAtATime) {
  ServerProcess s({"--max-batch", "4", "--join-window-ms", "10000", "--max-prefill-tokens", "1", "--model",
                   (test::data_dir() / "smolvlm_f32_s3").string()});
  json longer = user_text("running", 1000);  // still running when the joiners are done, however slow
  longer["ignore_eos"] = true;
  std::vector<json> joiners;
  std::vector<std::vector<int32_t>> alone;
  for (int i = 0; i < 3; ++i) {
    joiners.push_back(user_text("joining " + std::to_string(i), 3));
    joiners.back()["ignore_eos"] = true;
    const auto [status, r] = chat(s, joiners.back());
    ASSERT_EQ(status, 200);
    alone.push_back(ids_of(r));
  }
  const auto metric = [&](const std::string& name) {
    auto m = s.client().Get("/metrics");
    std::smatch v;
    if (!m || !std::regex_search(m->body, v, std::regex("\n" + name + " ([0-9.e+-]+)"))) return -1.0;
    return std::stod(v[1]);
  };
  const double prefills_before = metric("smolvk_prefills_total");
  Streamed a;
  std::thread ta([&] { a = chat_stream(s, longer); });
  // Its prefill pass is done (so it runs when the joiners queue; the running-requests gauge
  // may still show the last answer's row: the answer is sent before the slot is released).
  for (int i = 0; i < 600 && metric("smolvk_prefills_total") != prefills_before + 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::vector<Streamed> joined(3);
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) clients.emplace_back([&, i] { joined[size_t(i)] = chat_stream(s, joiners[size_t(i)]); });
  for (auto& t : clients) t.join();
  ta.join();
  EXPECT_EQ(a.ids.size(), 1000u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(joined[size_t(i)].ids, alone[size_t(i)]) << "joiner " << i;
    EXPECT_LT(joined[size_t(i)].first_token, a.last_token) << "joiner " << i;  // joined the running batch
  }
  // The running request, then the three joiners in three gaps (they filled the free slots
  // together, so the join window did not hold them); two gaps left requests for the next.
  EXPECT_EQ(metric("smolvk_prefills_total") - prefills_before, 4);
  EXPECT_EQ(metric("smolvk_prefill_held_total"), 2);
  EXPECT_GT(metric("smolvk_decode_stall_seconds_total"), 0);
}

TEST(Serve, BadMaxPrefillTokensIsNamedInTheError) {
  for (const std::string v : {"-1", "many", "3000000000"}) {
    const std::string cmd = serve_binary().string() + " --port 0 --max-prefill-tokens " + v + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_TRUE(p);
    std::string out;
    std::array<char, 4096> buf;
    for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
    const int status = ::pclose(p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << v << ": " << out;
    EXPECT_NE(out.find("--max-prefill-tokens '" + v +
                       "': expected 0 (no limit) or a number of prompt tokens from 1 to 2147483647"),
              std::string::npos)
        << out;
  }
}

// The batch window groups requests that arrive together, but only waits while another request
// is still being parsed and prepared: one alone on an idle GPU is prefilled at once (a 10 s
// window here would otherwise hold it 10 s).
TEST(Serve, ALoneRequestDoesNotWaitTheBatchWindow) {
  ServerProcess s({"--batch-window-ms", "10000"});
  const auto start = std::chrono::steady_clock::now();
  const auto [status, r] = chat(s, user_text("alone", 2));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(status, 200) << r.dump();
  EXPECT_LT(ms, 5000.0);
  auto m = s.client().Get("/metrics");
  ASSERT_TRUE(m);
  std::smatch v;
  ASSERT_TRUE(std::regex_search(m->body, v, std::regex("\nsmolvk_queue_wait_seconds_sum ([0-9.e+-]+)")));
  EXPECT_LT(std::stod(v[1]), 1.0);  // its time in the queue
}

TEST(Serve, ApiKeyOnEveryEndpointButHealth) {
  ServerProcess s({"--api-key", "sekrit"});
  auto c = s.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  EXPECT_EQ(c.Get("/v1/models")->status, 401);
  EXPECT_EQ(c.Get("/metrics")->status, 401);
  EXPECT_EQ(chat(s, user_text("hi", 2)).first, 401);
  EXPECT_EQ(chat(s, user_text("hi", 2), {{"Authorization", "Bearer wrong"}}).first, 401);
  const auto [status, r] = chat(s, user_text("hi", 2), {{"Authorization", "Bearer sekrit"}});
  EXPECT_EQ(status, 200) << r.dump();
  EXPECT_EQ(c.Get("/v1/models", {{"Authorization", "Bearer sekrit"}})->status, 200);
}

TEST(Serve, SigtermFinishesRunningRequestsAndExitsZero) {
  ServerProcess s({});
  json body = user_text("finish me", 20);
  body["ignore_eos"] = true;
  Streamed st;
  std::thread client([&] { st = chat_stream(s, body); });
  for (int i = 0; i < 600; ++i) {
    auto m = s.client().Get("/metrics");
    if (m && m->body.find("smolvk_running_requests 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  s.signal(SIGTERM);
  client.join();
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.ids.size(), 20u);
  EXPECT_EQ(st.finish_reason, "length");
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, ImageRootFilesAndNoEscape) {
  const fs::path root = fs::temp_directory_path() / ("smolvk_image_root_" + std::to_string(::getpid()));
  fs::create_directories(root / "sub");
  fs::copy_file(kImage, root / "sub" / "img.png", fs::copy_options::overwrite_existing);
  fs::create_symlink(kImage, root / "escape.png");
  {
    ServerProcess s({"--image-root", root.string()});
    auto with_url = [&](const std::string& url) {
      json body = image_then_text("What shapes?", 3);
      body["messages"][0]["content"][0]["image_url"]["url"] = url;
      return chat(s, body);
    };
    const auto [s0, by_path] = with_url("sub/img.png");
    ASSERT_EQ(s0, 200) << by_path.dump();
    const auto [s1, by_file_url] = with_url("file://" + (root / "sub" / ".." / "sub" / "img.png").string());
    EXPECT_EQ(s1, 200) << by_file_url.dump();
    EXPECT_EQ(ids_of(by_file_url), ids_of(by_path));
    for (const std::string& url : {std::string("../") + root.filename().string() + "/../etc/passwd",
                                   std::string("/etc/passwd"), std::string("escape.png"), "file://" + kImage.string(),
                                   std::string("sub/missing.png"), std::string("http://example.com/a.png")}) {
      const auto [st, r] = with_url(url);
      EXPECT_EQ(st, 400) << url;
      EXPECT_EQ(r["error"]["param"], "messages[0].content[0].image_url.url") << url;
    }
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace smolvk::test
