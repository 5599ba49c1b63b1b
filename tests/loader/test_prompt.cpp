// Chat layout, template recognition and image-token expansion on hand-made inputs.
#include <gtest/gtest.h>

#include "tests/loader/error_of.h"

#include <filesystem>
#include <fstream>

#include "loader/error.h"
#include "loader/prompt.h"

namespace smolvk {
namespace {

const char* kSmolVlmTemplate =
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] "
    "== 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == "
    "'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% elif line['type'] == 'video' "
    "%}{{ '<video>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ "
    "'Assistant:' }}{% endif %}";

ChatItem text(std::string t) { return {ChatItem::Text, std::move(t)}; }
ChatItem image() { return {ChatItem::Image, {}}; }

using test::error_of;

TEST(Prompt, ReferenceExample) {
  const std::vector<ChatMessage> m = {{"user", {image(), text("Describe.")}}};
  EXPECT_EQ(apply_chat_template(m, true), "<|im_start|>User:<image>Describe.<end_of_utterance>\nAssistant:");
  EXPECT_EQ(apply_chat_template(m, false), "<|im_start|>User:<image>Describe.<end_of_utterance>\n");
}

TEST(Prompt, MultiTurnAndCapitalisation) {
  const std::vector<ChatMessage> m = {{"system", {text("Be brief.")}},
                                      {"user", {text("Compare"), image(), text("and"), image()}},
                                      {"ASSISTANT", {text(" Same.")}},
                                      {"uSeR", {image()}}};
  EXPECT_EQ(apply_chat_template(m, true),
            "<|im_start|>System: Be brief.<end_of_utterance>\nUser: Compare<image>and<image><end_of_utterance>\n"
            "Assistant:  Same.<end_of_utterance>\nUser:<image><end_of_utterance>\nAssistant:");
}

TEST(Prompt, EmptyMessageIsAnError) {
  const std::vector<ChatMessage> m = {{"user", {}}};
  EXPECT_NE(error_of([&] { apply_chat_template(m, true); }).find("chat message 0 (role \"user\") has no content"),
            std::string::npos);
}

TEST(Prompt, RecognisesCheckpointTemplates) {
  EXPECT_EQ(ChatTemplate::parse(kSmolVlmTemplate, "t.jinja").prefix(), "<|im_start|>");
  // Idefics3-8B: Llama-3 BOS as the prefix, .capitalize() method, no video branch.
  std::string idefics = kSmolVlmTemplate;
  idefics.replace(0, 12, "<|begin_of_text|>");
  idefics.replace(idefics.find("message['role'] | capitalize"), 28, "message['role'].capitalize()");
  const ChatTemplate t = ChatTemplate::parse(idefics, "t.jinja");
  EXPECT_EQ(t.prefix(), "<|begin_of_text|>");
  const std::vector<ChatMessage> m = {{"user", {text("Hi")}}};
  EXPECT_EQ(t.apply(m, true), "<|begin_of_text|>User: Hi<end_of_utterance>\nAssistant:");

  const std::string chatml =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n'}}{% endfor %}";
  const std::string msg = error_of([&] { ChatTemplate::parse(chatml, "other/chat_template.jinja"); });
  EXPECT_NE(msg.find("other/chat_template.jinja: chat template not recognised"), std::string::npos) << msg;
}

TEST(Prompt, LoadsTemplateAndTokensFromDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / "smolvk_test_prompt_dir";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  EXPECT_NE(error_of([&] { ChatTemplate::load(dir); }).find("no chat template"), std::string::npos);
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"chat_template": [{"name": "default", "template": "<|im_start|>{% for message in messages %}"}],
             "extra_special_tokens": {"image_token": "<img>", "fake_image_token": {"content": "<fake>"}}})";
  EXPECT_NE(error_of([&] { ChatTemplate::load(dir); }).find("not recognised"), std::string::npos);
  const ImageTokens tok = ImageTokens::load(dir);
  EXPECT_EQ(tok.image, "<img>");
  EXPECT_EQ(tok.fake_image, "<fake>");
  EXPECT_EQ(tok.global_image, "<global-img>");
  std::ofstream(dir / "chat_template.json") << "{\"chat_template\": \"" << [] {
    std::string s;
    for (const char* p = kSmolVlmTemplate; *p; ++p) s += *p == '\n' ? std::string("\\n") : std::string(1, *p);
    return s;
  }() << "\"}";
  EXPECT_EQ(ChatTemplate::load(dir).prefix(), "<|im_start|>");
  std::filesystem::remove_all(dir);
}

TEST(Prompt, ExpandsUnsplitAndSplitImages) {
  const ImageTokens tok;
  const std::vector<ImageGrid> grids = {{0, 0}, {2, 2}};
  const std::string got = expand_image_tokens("A<image>B<image>C", grids, 2, tok);
  const std::string F = "<fake_token_around_image>", I = "<image>", G = "<global-img>";
  const std::string unsplit = F + G + I + I + F;
  const std::string split = F + "<row_1_col_1>" + I + I + F + "<row_1_col_2>" + I + I + "\n" + F + "<row_2_col_1>" + I +
                            I + F + "<row_2_col_2>" + I + I + "\n" + "\n" + F + G + I + I + F;
  EXPECT_EQ(got, "A" + unsplit + "B" + split + "C");
  EXPECT_EQ(expand_image_tokens("no images", {}, 64, tok), "no images");
}

TEST(Prompt, PlaceholderCountMismatchNamesBothCounts) {
  const std::vector<ImageGrid> one = {{0, 0}};
  std::string msg = error_of([&] { expand_image_tokens("<image><image>", one, 4, ImageTokens{}); });
  EXPECT_NE(msg.find("prompt has 2 `<image>` placeholder(s) but 1 image(s) were given"), std::string::npos) << msg;
  msg = error_of([&] { expand_image_tokens("text", one, 4, ImageTokens{}); });
  EXPECT_NE(msg.find("prompt has 0 `<image>` placeholder(s) but 1 image(s)"), std::string::npos) << msg;
  const std::vector<ImageGrid> bad = {{2, 0}};
  EXPECT_THROW(expand_image_tokens("<image>", bad, 4, ImageTokens{}), LoadError);
  EXPECT_THROW(expand_image_tokens("<image>", one, 0, ImageTokens{}), LoadError);
}

}  // namespace
}  // namespace smolvk

namespace smolvk {

// Generation stops on generation_config.json's eos ids and on <end_of_utterance>, each once,
// whether or not the config lists it (Idefics3-8B's does not).
TEST(Prompt, StopTokensAreTheConfigsEosAndTheEndOfUtterance) {
  const auto dir = std::filesystem::path(SMOLVK_TEST_DATA) / "smolvlm_bf16";
  const Tokenizer tok = Tokenizer::load(dir / "tokenizer.json");
  const int32_t eou = *tok.token_to_id(kEndOfUtterance);
  EXPECT_EQ(eou, 551);
  GenerationConfig g = load_generation_config(dir);  // eos [551, 2]
  EXPECT_EQ(stop_token_ids(g, tok), (std::vector<int32_t>{551, 2}));
  g.eos_token_ids = {7};  // a config that omits it
  EXPECT_EQ(stop_token_ids(g, tok), (std::vector<int32_t>{7, eou}));
  g.eos_token_ids.clear();
  EXPECT_EQ(stop_token_ids(g, tok), (std::vector<int32_t>{eou}));
}

}  // namespace smolvk
