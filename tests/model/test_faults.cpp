// Faults on the model path: a request over the memory budget, a lost device, a context
// overflow. Each checks the error and that work goes on afterwards (same Model, or a new
// Context for a lost device).
#include <gtest/gtest.h>

#include <tuple>
#include <utility>

#include <memory>
#include <string>

#include "model/chat_session.h"
#include "tests/model/golden.h"

using namespace smolvk;

namespace {
ContextOptions test_options() {
  ContextOptions o = ContextOptions::from_env();
  o.staged_transfers = true;  // uploads through a staging buffer, as on a discrete GPU
  o.validation = true;
  o.fault.clear();
  o.on_validation_message = [](const std::string& m) { ADD_FAILURE() << "Vulkan validation: " << m; };
  return o;
}

std::filesystem::path model_dir() { return test::data_dir() / "smolvlm_f32_s3"; }

Request text_request(const std::string& text) {
  Request r;
  r.messages = {ChatMessage{"user", {{ChatItem::Text, text}}}};
  return r;
}

GenerateOptions few_tokens() {
  GenerateOptions o;
  o.max_new_tokens = 4;
  o.ignore_eos = true;
  return o;
}

template <class E = GpuError, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(Faults, OutOfMemoryFreesWhatTheCallTookAndTheSameModelKeepsWorking) {
  ContextOptions opts = test_options();
  opts.memory_budget_bytes = 512ull << 10;  // half the test model's weights
  Context ctx(opts);
  const uint64_t empty = ctx.memory_stats().in_use;
  bool oom = false;
  std::string msg;
  try {
    Model::load(ctx, model_dir());
  } catch (const GpuError& e) {
    oom = e.out_of_memory();
    msg = e.what();
  }
  EXPECT_TRUE(oom) << msg;
  EXPECT_NE(msg.find("memory budget of 524288 bytes"), std::string::npos) << msg;
  EXPECT_EQ(ctx.memory_stats().in_use, empty) << "a failed load frees its weights";

  ctx.set_memory_budget(32ull << 20);
  auto model = Model::load(ctx, model_dir());
  const Result first = model->generate(text_request("Hello"), few_tokens());
  ASSERT_EQ(first.output_ids.size(), 4u);
  const MemoryStats before = ctx.memory_stats();

  // Eight rows with an image each and 8000 new tokens: the KV cache alone is about 40 MiB.
  std::vector<Request> big(8);
  for (auto& r : big) {
    r.messages = {ChatMessage{"user", {{ChatItem::Image, {}}, {ChatItem::Text, "Describe it."}}}};
    r.images = {load_image(test::data_dir() / "images" / "strip_120x40.png")};
  }
  GenerateOptions long_run;
  long_run.max_new_tokens = 8000;
  oom = false;
  try {
    model->generate(big, long_run);
    msg = "(no error)";
  } catch (const GpuError& e) {
    oom = e.out_of_memory();
    msg = e.what();
  }
  EXPECT_TRUE(oom) << msg;
  EXPECT_NE(msg.find("out of device memory: a device buffer of "), std::string::npos) << msg;
  EXPECT_NE(msg.find("over the memory budget of 33554432 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("held from the driver"), std::string::npos) << msg;
  const MemoryStats after = ctx.memory_stats();
  EXPECT_EQ(after.in_use, before.in_use) << "a failed generate frees what it allocated";
  EXPECT_LE(after.counted, after.budget);

  const Result again = model->generate(text_request("Hello"), few_tokens());
  EXPECT_EQ(again.output_ids, first.output_ids);
  EXPECT_EQ(ctx.memory_stats().in_use, before.in_use);
}

TEST(Faults, DeviceLostFailsGenerateThenTheContextRefusesWorkAndANewContextWorks) {
  std::vector<int32_t> reference;
  {
    Context ctx(test_options());
    auto model = Model::load(ctx, model_dir());
    reference = model->generate(text_request("Hello"), few_tokens()).output_ids;
    ctx.inject_fault(Fault::DeviceLostOnNextSubmit);

    // A context overflow is refused before any GPU work: the armed fault does not fire.
    GenerateOptions too_long = few_tokens();
    too_long.max_new_tokens = int(model->config().text.max_position_embeddings);
    const std::string overflow =
        error_of<std::invalid_argument>([&] { model->generate(text_request("Hello"), too_long); });
    EXPECT_NE(overflow.find("context overflow"), std::string::npos) << overflow;
    EXPECT_NE(overflow.find(std::to_string(too_long.max_new_tokens) + " new tokens"), std::string::npos) << overflow;
    EXPECT_NE(
        overflow.find("exceed the " + std::to_string(model->config().text.max_position_embeddings) + " positions"),
        std::string::npos)
        << overflow;
    EXPECT_FALSE(ctx.device_lost());

    // generate's GpuError: whether it reports device loss, and its message.
    auto generate_error = [&] {
      try {
        model->generate(text_request("Hello"), few_tokens());
      } catch (const GpuError& e) {
        return std::pair<bool, std::string>{e.device_lost(), e.what()};
      }
      return std::pair<bool, std::string>{false, "generate did not throw"};
    };
    auto [lost, msg] = generate_error();
    EXPECT_TRUE(lost) << msg;
    EXPECT_NE(msg.find("device lost"), std::string::npos) << msg;
    EXPECT_NE(msg.find("VK_ERROR_DEVICE_LOST"), std::string::npos) << msg;
    EXPECT_TRUE(ctx.device_lost());

    std::tie(lost, msg) = generate_error();
    EXPECT_TRUE(lost) << msg;
    EXPECT_NE(msg.find("device lost: create a new Context"), std::string::npos) << msg;
    const std::string refused = error_of([&] { ctx.create_buffer(16); });
    EXPECT_NE(refused.find("device lost: create a new Context"), std::string::npos) << refused;
  }  // Model and Context go away without waiting on anything that was never submitted
  Context fresh(test_options());
  auto model = Model::load(fresh, model_dir());
  EXPECT_EQ(model->generate(text_request("Hello"), few_tokens()).output_ids, reference);
  EXPECT_FALSE(fresh.device_lost());
}

TEST(Faults, ChatOverflowNamesBothNumbers) {
  auto model = Model::load(test::context(), model_dir());
  ChatSession chat(*model, 32);
  GenerateOptions o;
  o.max_new_tokens = 30;
  const std::string msg = error_of<std::invalid_argument>([&] { chat.send("Hello there", {}, o); });
  EXPECT_NE(msg.find("context overflow"), std::string::npos) << msg;
  EXPECT_NE(msg.find("30 new tokens"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exceed the 32 positions"), std::string::npos) << msg;
  EXPECT_EQ(chat.tokens_in_context(), 0);
  o.max_new_tokens = 3;
  EXPECT_EQ(chat.send("Hello there", {}, o).output_ids.size() <= 3u, true);
}
