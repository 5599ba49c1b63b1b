// smolvk soak: memory over many consecutive generate() calls on one model, then over chats
// grown turn by turn to thousands of positions. Host RSS (/proc/self/statm) and device memory
// (Context::memory_stats()) are sampled as it goes; a table and a verdict on growth follow.
// A measurement (issue #15's soak), not a test: it runs for minutes on lavapipe.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/cli/commands.h"
#include "apps/cli/model_args.h"
#include "apps/cli/presets.h"
#include "model/chat_session.h"

namespace smolvk::cli {
namespace {

const char* kHelp =
    "usage: smolvk soak [--model DIR | --shape NAME] [options]\n"
    "\n"
    "Memory soak: --calls consecutive generate() calls on one model (prompts of five lengths in\n"
    "turn, an image with every other call), then a chat grown turn by turn to --chat-positions\n"
    "positions, --chat-rounds times. Samples host RSS (/proc/self/statm) and device memory\n"
    "(Context::memory_stats(): bytes in live buffers, and bytes held from the driver) every\n"
    "--every calls and every --every-turns chat turns; prints a table (stderr) and a verdict line\n"
    "(stdout): growth from the call-(--every) sample to the last call, across the last chat\n"
    "round, and from the end of the first round to the end of the last. (On a CPU driver device\n"
    "memory is host memory: the first round's RSS grows as its KV cache is first written.)\n"
    "Exit status 0: no growth beyond the tolerances; 4: growth; 1: an error; 2: bad options.\n"
    "\n"
    "  --model DIR              a Hugging Face SmolVLM / Idefics3 checkpoint. Default: the demo\n"
    "                           checkpoint in examples/demo-model (random weights)\n"
    "  --shape NAME             random weights of a published shape instead (as smolvk bench)\n"
    "  --dtype bf16|f16|f32     weight dtype with --shape (default bf16)\n"
    "  --image FILE             the image sent with every other call and the first chat turn.\n"
    "                           Default: a 96x24 gradient made in memory (few tiles: 5 on the\n"
    "                           demo checkpoint); --no-image sends none\n"
    "  --calls N                generate() calls (default 1000)\n"
    "  --every K                sample every K calls (default 100)\n"
    "  --new-tokens T           tokens per call, eos ignored (default 8)\n"
    "  --chat-positions P       grow the chat to P positions (default 4096; capped at the\n"
    "                           model's max_position_embeddings); 0 skips the chat\n"
    "  --chat-turn-tokens T     tokens generated per chat turn (default 64)\n"
    "  --every-turns K          sample every K chat turns (default 8)\n"
    "  --chat-rounds R          chats of --chat-positions, one after another (default 2)\n"
    "  --host-tolerance-mib M   host RSS growth still called none (default 8: allocator noise)\n"
    "  --device-tolerance-mib M device growth still called none (default 0)\n"
    "  --json FILE              also write the samples and the verdict as JSON\n";

constexpr double kMiB = 1024.0 * 1024.0;

uint64_t host_rss_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) throw std::runtime_error("cannot read /proc/self/statm (resident pages)");
  return resident * uint64_t(::sysconf(_SC_PAGESIZE));
}

struct Sample {
  std::string phase;  // "calls", or "chat1", "chat2", ... (the chat rounds)
  int64_t step = 0;   // calls done, or chat turns done
  int64_t positions = 0;
  uint64_t rss = 0;
  MemoryStats mem;
  uint32_t pipelines = 0;  // compute pipelines built so far (each holds the driver's code)
  double ms_per_step = 0;  // since the previous sample
};

int positive(const Args& a, const std::string& name, int64_t def, int64_t min) {
  const int64_t v = a.get_int(name, def);
  if (v < min || v > 100'000'000)
    throw std::invalid_argument("--" + name + " " + std::to_string(v) + ": expected an integer from " +
                                std::to_string(min) + " to 100000000");
  return int(v);
}

double mib_option(const Args& a, const std::string& name, double def) {
  const double v = a.get_double(name, def);
  if (!(v >= 0) || !std::isfinite(v))
    throw std::invalid_argument("--" + name + " " + a.get(name) + ": expected a number of MiB ≥ 0");
  return v;
}

DType dtype_of(const std::string& v) {
  if (v == "bf16") return DType::BF16;
  if (v == "f16") return DType::F16;
  if (v == "f32") return DType::F32;
  throw std::invalid_argument("--dtype " + v + ": expected bf16, f16 or f32");
}

// "+0 B", "+12288 B (+0.01 MiB)": exact bytes, so a small growth does not read as +0.00.
std::string signed_bytes(double bytes) {
  char b[64];
  if (bytes == 0)
    std::snprintf(b, sizeof b, "+0 B");
  else
    std::snprintf(b, sizeof b, "%+.0f B (%+.2f MiB)", bytes, bytes / kMiB);
  return b;
}

nlohmann::json to_json(const Sample& s) {
  return {{"phase", s.phase},
          {"step", s.step},
          {"positions", s.positions},
          {"host_rss_bytes", s.rss},
          {"device_in_use_bytes", s.mem.in_use},
          {"device_held_bytes", s.mem.counted},
          {"device_pool_bytes", s.mem.pool_reserved},
          {"device_host_visible_bytes", s.mem.host_reserved},
          {"pipelines", s.pipelines},
          {"ms_per_step", s.ms_per_step}};
}

struct Growth {
  std::string what;
  const Sample *from = nullptr, *to = nullptr;
  double host() const { return double(to->rss) - double(from->rss); }
  double in_use() const { return double(to->mem.in_use) - double(from->mem.in_use); }
  double held() const { return double(to->mem.counted) - double(from->mem.counted); }
};

}  // namespace

int cmd_soak(const std::vector<std::string>& argv) {
  Args a(argv, {{"model", true},
                {"shape", true},
                {"dtype", true},
                {"image", true},
                {"no-image", false},
                {"calls", true},
                {"every", true},
                {"new-tokens", true},
                {"chat-positions", true},
                {"chat-turn-tokens", true},
                {"every-turns", true},
                {"chat-rounds", true},
                {"host-tolerance-mib", true},
                {"device-tolerance-mib", true},
                {"json", true},
                {"help", false}});
  if (a.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (a.has("model") && a.has("shape")) throw std::invalid_argument("give --model DIR or --shape NAME, not both");
  if (a.has("image") && a.has("no-image")) throw std::invalid_argument("give --image FILE or --no-image, not both");
  const int calls = positive(a, "calls", 1000, 1);
  const int every = positive(a, "every", 100, 1);
  const int new_tokens = positive(a, "new-tokens", 8, 1);
  const int chat_positions_asked = positive(a, "chat-positions", 4096, 0);
  const int turn_tokens = positive(a, "chat-turn-tokens", 64, 1);
  const int every_turns = positive(a, "every-turns", 8, 1);
  const int rounds = positive(a, "chat-rounds", 2, 1);
  const double host_tol = mib_option(a, "host-tolerance-mib", 8) * kMiB;
  const double device_tol = mib_option(a, "device-tolerance-mib", 0) * kMiB;

  Context ctx;
  std::unique_ptr<Model> model;
  if (a.has("shape"))
    model = Model::random(ctx, preset_config(a.get("shape")), dtype_of(a.get("dtype", "bf16")));
  else
    model = load_model(ctx, model_dir(a), true);
  std::vector<Image> images;
  if (a.has("image")) {
    images.push_back(load_image(a.get("image")));  // names the file when it cannot
  } else if (!a.has("no-image")) {
    // A 96x24 gradient: the fewest tiles a SmolVLM processor makes (its longest edge is
    // resized to size.longest_edge and split: 4 x 1 + the global tile on the demo checkpoint),
    // so the image path runs every other call but the time goes into the number of calls.
    Image im;
    im.width = 96;
    im.height = 24;
    im.rgb.resize(size_t(96) * 24 * 3);
    for (int y = 0; y < 24; ++y)
      for (int x = 0; x < 96; ++x) {
        uint8_t* p = im.rgb.data() + (size_t(y) * 96 + x) * 3;
        p[0] = uint8_t(x * 2), p[1] = uint8_t(y * 10), p[2] = uint8_t(255 - x - y * 4);
      }
    images.push_back(std::move(im));
  }

  const char* kPrompts[] = {
      "What is in this image?",
      "Describe it.",
      "List every colour you can see, from the largest area to the smallest, and say where each one is.",
      "How many squares are there? Count them row by row and give the total at the end.",
      "Is there any text? If there is, read it out exactly as written, line by line, keeping the order.",
  };
  GenerateOptions g;
  g.max_new_tokens = new_tokens;
  g.ignore_eos = true;

  std::vector<Sample> samples;
  using Clock = std::chrono::steady_clock;
  auto since = Clock::now();
  int64_t since_step = 0;
  auto sample = [&](const std::string& phase, int64_t step, int64_t positions) {
    const auto now = Clock::now();
    Sample s{phase, step, positions, host_rss_bytes(), ctx.memory_stats(), ctx.pipeline_cache_stats().pipelines_created,
             0};
    if (step > since_step)
      s.ms_per_step = std::chrono::duration<double, std::milli>(now - since).count() / double(step - since_step);
    samples.push_back(s);
    since = now;
    since_step = step;
    std::fprintf(stderr, "%-6s %6lld %9lld %12.2f %16llu %16llu %9u %11.1f\n", phase.c_str(), (long long)step,
                 (long long)positions, double(s.rss) / kMiB, (unsigned long long)s.mem.in_use,
                 (unsigned long long)s.mem.counted, s.pipelines, s.ms_per_step);
  };

  std::fprintf(stderr, "smolvk soak: %d generate() calls of %d tokens on %s (%s), %s\n", calls, new_tokens,
               model->config().architecture_name.c_str(), ctx.caps().name.c_str(),
               images.empty() ? "no image" : "an image with every other call");
  std::fprintf(stderr, "%-6s %6s %9s %12s %16s %16s %9s %11s\n", "phase", "step", "positions", "host RSS MiB",
               "device in use B", "device held B", "pipelines", "ms per step");
  for (int i = 1; i <= calls; ++i) {
    Request r;
    ChatMessage m{"user", {}};
    const bool with_image = !images.empty() && i % 2 == 1;
    if (with_image) {
      m.content.push_back({ChatItem::Image, {}});
      r.images = images;
    }
    m.content.push_back({ChatItem::Text, kPrompts[i % 5]});
    r.messages.push_back(std::move(m));
    Result res = model->generate(r, g);
    if (res.output_ids.size() != size_t(new_tokens))
      throw std::runtime_error("call " + std::to_string(i) + " gave " + std::to_string(res.output_ids.size()) +
                               " tokens, expected " + std::to_string(new_tokens));
    if (i == 1 && with_image) std::fprintf(stderr, "(the image is %d tile(s))\n", res.timings.tiles);
    if (i == 1 || i % every == 0 || i == calls) sample("calls", i, 0);
  }

  // The chat: turns of turn_tokens each until the next would pass the positions asked for,
  // `rounds` times (a fresh ChatSession each). On a CPU driver device memory is the process's
  // own memory, and the KV cache's pages become resident as the first chat writes them: the
  // first round's host RSS grows with its positions. A second round reuses them, so its growth,
  // and the growth from the end of round 1 to the end of the last, show a leak.
  const int64_t max_pos = model->config().text.max_position_embeddings;
  const int64_t chat_positions = std::min<int64_t>(chat_positions_asked, max_pos);
  int turns = 0;
  for (int round = 1; chat_positions > 0 && round <= rounds; ++round) {
    const std::string phase = "chat" + std::to_string(round);
    ChatSession chat(*model, chat_positions);
    if (round == 1)
      std::fprintf(stderr, "chat: grown to %lld positions (asked %d; the model has %lld), %d round(s)\n",
                   (long long)chat_positions, chat_positions_asked, (long long)max_pos, rounds);
    since = Clock::now();
    since_step = 0;
    turns = 0;
    int last_prompt = 0;
    for (;;) {
      const int64_t left = chat.capacity() - chat.tokens_in_context();
      // The next turn's prompt is about as long as the last one (the prompts repeat).
      const int64_t room = left - last_prompt - 2;
      if (turns > 0 && room < 1) break;
      GenerateOptions t = g;
      t.max_new_tokens = int(std::max<int64_t>(1, std::min<int64_t>(turn_tokens, room)));
      std::vector<Image> turn_images = turns == 0 ? images : std::vector<Image>{};
      Result res;
      try {
        res = chat.send(kPrompts[turns % 5], turn_images, t);
      } catch (const std::invalid_argument&) {
        if (turns == 0) throw;  // not even one turn fits: say why
        break;                  // refused before any work: the chat is full
      }
      ++turns;
      last_prompt = res.timings.prompt_tokens;
      if (turns == 1 || turns % every_turns == 0) sample(phase, turns, chat.tokens_in_context());
    }
    if (samples.back().phase != phase || samples.back().step != turns) sample(phase, turns, chat.tokens_in_context());
  }

  // The verdict: from the call-`every` sample (the first one after the start-up allocations
  // have settled; call 1 when there is no later one) to the last call; across the last chat
  // round; from the end of the first round to the end of the last.
  std::vector<Growth> growths;
  const Sample* first_calls = &samples.front();
  const Sample* last_calls = nullptr;
  const Sample* first_round_end = nullptr;
  const Sample* last_round_start = nullptr;
  const Sample* last_round_end = nullptr;
  const std::string last_phase = "chat" + std::to_string(rounds);
  for (const auto& s : samples) {
    if (s.phase == "calls") {
      if (s.step == every && every < calls) first_calls = &s;
      last_calls = &s;
    }
    if (s.phase == "chat1") first_round_end = &s;
    if (s.phase == last_phase) {
      if (!last_round_start) last_round_start = &s;
      last_round_end = &s;
    }
  }
  growths.push_back({"calls " + std::to_string(first_calls->step) + " to " + std::to_string(last_calls->step),
                     first_calls, last_calls});
  if (last_round_start)
    growths.push_back({"chat round " + std::to_string(rounds) + ", turns " + std::to_string(last_round_start->step) +
                           " to " + std::to_string(last_round_end->step) + " (" +
                           std::to_string(last_round_start->positions) + " to " +
                           std::to_string(last_round_end->positions) + " positions)",
                       last_round_start, last_round_end});
  if (last_round_end && rounds > 1)
    growths.push_back(
        {"end of chat round 1 to end of round " + std::to_string(rounds), first_round_end, last_round_end});
  bool grows = false;
  std::string verdict;
  for (const auto& gr : growths) {
    const bool g_host = gr.host() > host_tol, g_dev = gr.in_use() > device_tol || gr.held() > device_tol;
    grows |= g_host || g_dev;
    verdict += (verdict.empty() ? "" : "; ") + gr.what + ": host RSS " + signed_bytes(gr.host()) +
               (g_host ? " (GROWS)" : "") + ", device in use " + signed_bytes(gr.in_use()) + ", held " +
               signed_bytes(gr.held()) + (g_dev ? " (GROWS)" : "");
  }
  char tol[96];
  std::snprintf(tol, sizeof tol, " [tolerances: host %.1f MiB, device %.1f MiB]", host_tol / kMiB, device_tol / kMiB);
  std::printf("soak verdict: %s: %s%s\n", grows ? "GROWTH" : "no growth", verdict.c_str(), tol);

  if (a.has("json")) {
    nlohmann::json j;
    j["device"] = ctx.caps().name;
    j["model"] = a.has("shape") ? "shape " + a.get("shape") : model_dir(a).string();
    j["calls"] = calls;
    j["new_tokens"] = new_tokens;
    j["image"] = !images.empty();
    j["chat_positions"] = chat_positions;
    j["chat_rounds"] = rounds;
    j["chat_turns"] = turns;  // per round
    j["samples"] = nlohmann::json::array();
    for (const auto& s : samples) j["samples"].push_back(to_json(s));
    j["growth"] = nlohmann::json::array();
    for (const auto& gr : growths)
      j["growth"].push_back({{"between", gr.what},
                             {"host_rss_bytes", gr.host()},
                             {"device_in_use_bytes", gr.in_use()},
                             {"device_held_bytes", gr.held()}});
    j["grows"] = grows;
    std::ofstream f(a.get("json"), std::ios::binary);
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + a.get("json"));
  }
  return grows ? 4 : 0;
}

}  // namespace smolvk::cli
