// smolvk-gui --offscreen: scripted sessions on the demo checkpoint (lavapipe, validation on).
#include <gtest/gtest.h>

#include "model/smolvlm.h"
#include "tests/apps/gui_test_util.h"

namespace smolvk::test {
namespace {

const char* kPrompt = "What is in this image?";
constexpr int kTokens = 6;

std::filesystem::path gui_or_skip() {
  auto gui = app_binary("smolvk-gui");
  if (!std::filesystem::exists(gui)) ADD_FAILURE() << gui << " was not built (see the configure message)";
  return gui;
}

// The smallest example image keeps the encoder quick on lavapipe.
std::filesystem::path small_image() { return examples_dir() / "checkerboard_200x300.png"; }

TEST(GuiOffscreen, ScriptedSessionRendersAndMatchesTheCli) {
  auto gui = gui_or_skip();
  auto dir = scratch_dir("session");
  write_text(dir / "script.txt", "image " + small_image().string() + "\nprompt " + kPrompt + "\nset max_new_tokens " +
                                     std::to_string(kTokens) + "\ngenerate\nwait_done\nscreenshot " +
                                     (dir / "shot.png").string() + "\n");
  ASSERT_EQ(run_shell(gui.string() + " --offscreen --size 960x640 --script " + (dir / "script.txt").string() +
                      " --session " + (dir / "session.json").string() + " 2> " + (dir / "stderr.txt").string()),
            0)
      << read_text(dir / "stderr.txt");
  auto s = read_json(dir / "session.json");
  EXPECT_TRUE(s["validation_messages"].empty()) << s["validation_messages"].dump(1);
  EXPECT_TRUE(s["errors"].empty()) << s["errors"].dump(1);
  ASSERT_EQ(s["turns"].size(), 1u);
  std::vector<int32_t> gui_ids = s["output_ids"], gui_input = s["input_ids"];
  EXPECT_EQ(gui_ids.size(), size_t(kTokens));  // the demo model does not hit eos this early
  EXPECT_EQ(s["image"]["tiles"], 13);          // 200×300 → 4×3 + global with 64-px tiles
  for (const char* phase : {"encode", "prefill", "decode"})
    EXPECT_GT(s["turns"][0]["gpu_profile"][phase]["dispatches"].get<int>(), 0) << phase;

  Image shot = load_image(dir / "shot.png");
  EXPECT_EQ(shot.width, 960);
  EXPECT_EQ(shot.height, 640);
  // Image panel (left, below the model panel): the checkerboard, grid lines, labels.
  EXPECT_GE(distinct_colours(shot, 0.0, 0.45, 0.36, 1.0), 8u);
  // Chat history (top right): prompt and answer text (ImGui's pixel font: one colour per
  // label colour) over the panel background.
  EXPECT_GE(distinct_colours(shot, 0.37, 0.03, 1.0, 0.25), 5u);

  // The same request through the library directly, as `smolvk run` builds it.
  auto model = Model::load(context(), examples_dir() / "demo-model");
  Request req;
  req.images.push_back(load_image(small_image()));
  req.messages.push_back({"user", {{ChatItem::Image, {}}, {ChatItem::Text, kPrompt}}});
  GenerateOptions o;
  o.max_new_tokens = kTokens;
  Result r = model->generate(req, o);
  EXPECT_EQ(gui_ids, r.output_ids);
  EXPECT_EQ(gui_input, r.input_ids);

  // And through the CLI binary.
  auto cli = app_binary("smolvk");
  ASSERT_TRUE(std::filesystem::exists(cli)) << cli;
  ASSERT_EQ(run_shell(cli.string() + " run --json --image " + small_image().string() + " --prompt '" + kPrompt +
                      "' --max-new-tokens " + std::to_string(kTokens) + " > " + (dir / "cli.json").string() + " 2> " +
                      (dir / "cli_stderr.txt").string()),
            0)
      << read_text(dir / "cli_stderr.txt");
  auto c = read_json(dir / "cli.json");
  EXPECT_EQ(gui_ids, c["output_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(gui_input, c["input_ids"].get<std::vector<int32_t>>());
}

TEST(GuiOffscreen, StopAfterThreeTokensEndsWithinOneTokenAndTheUiKeepsDrawing) {
  auto gui = gui_or_skip();
  auto dir = scratch_dir("stop");
  write_text(dir / "script.txt", "image " + small_image().string() + "\nprompt " + kPrompt +
                                     "\nset max_new_tokens 40\npause_after_token 3\ngenerate\nwait_tokens 3\n"
                                     "stop\nwait_done\nframes 2\nsession " +
                                     (dir / "first.json").string() +
                                     "\nprompt And the colours?\nset max_new_tokens 2\ngenerate\nwait_done\n");
  ASSERT_EQ(run_shell(gui.string() + " --offscreen --size 640x480 --script " + (dir / "script.txt").string() +
                      " --session " + (dir / "session.json").string() + " 2> " + (dir / "stderr.txt").string()),
            0)
      << read_text(dir / "stderr.txt");
  auto s = read_json(dir / "first.json");
  EXPECT_TRUE(s["validation_messages"].empty()) << s["validation_messages"].dump(1);
  EXPECT_EQ(s["stop_reason"], "cancelled");
  EXPECT_GE(s["output_ids"].size(), 3u);
  EXPECT_LE(s["output_ids"].size(), 4u);
  double next_frame_ms = s["frames"]["stop_to_next_frame_ms"];
  EXPECT_GT(next_frame_ms, 0.0);
  EXPECT_LE(next_frame_ms, 100.0);

  // The chat goes on from the stopped answer: the second turn prefills only its own tokens
  // (the KV cache and the image features are kept), far fewer than the first prompt's.
  auto all = read_json(dir / "session.json");
  EXPECT_TRUE(all["errors"].empty()) << all["errors"].dump(1);
  ASSERT_EQ(all["turns"].size(), 2u);
  const auto& first = all["turns"][0]["timings"];
  const auto& second = all["turns"][1]["timings"];
  EXPECT_FALSE(all["turns"][1]["with_image"].get<bool>());
  EXPECT_EQ(second["tiles"], 0);  // no image encoded again
  EXPECT_GT(second["prompt_tokens"].get<int>(), 0);
  EXPECT_LT(second["prompt_tokens"].get<int>() * 5, first["prompt_tokens"].get<int>());
  EXPECT_EQ(all["turns"][1]["output_ids"].size(), 2u);
}

TEST(GuiOffscreen, BadImagesShowTheErrorPanel) {
  auto gui = gui_or_skip();
  auto dir = scratch_dir("bad_image");
  write_text(dir / "notes.png", "this is text, not an image\n");
  write_text(dir / "script.txt", "wait_done\nimage " + (dir / "missing.png").string() + "\nimage " +
                                     (dir / "notes.png").string() + "\nscreenshot " + (dir / "shot.png").string() +
                                     "\n");
  ASSERT_EQ(run_shell(gui.string() + " --offscreen --size 800x600 --script " + (dir / "script.txt").string() +
                      " --session " + (dir / "session.json").string() + " 2> " + (dir / "stderr.txt").string()),
            0)
      << read_text(dir / "stderr.txt");
  auto s = read_json(dir / "session.json");
  EXPECT_TRUE(s["validation_messages"].empty()) << s["validation_messages"].dump(1);
  ASSERT_EQ(s["errors"].size(), 2u) << s["errors"].dump(1);
  EXPECT_NE(s["errors"][0].get<std::string>().find("missing.png"), std::string::npos) << s["errors"][0];
  EXPECT_NE(s["errors"][1].get<std::string>().find("notes.png"), std::string::npos) << s["errors"][1];
  EXPECT_FALSE(s.contains("image"));  // nothing was opened
  // The error panel (dark red, lower left) is on screen.
  Image shot = load_image(dir / "shot.png");
  int red = 0;
  for (int y = int(0.72 * shot.height); y < int(0.97 * shot.height); ++y)
    for (int x = int(0.03 * shot.width); x < int(0.5 * shot.width); ++x) {
      const uint8_t* p = shot.pixel(x, y);
      red += p[0] > 35 && p[0] > 2 * p[1] && p[0] > 2 * p[2];
    }
  EXPECT_GT(red, 1000);
}

TEST(GuiOffscreen, BadArgumentsAndScriptsAreRefusedWithTheirLocation) {
  auto gui = gui_or_skip();
  auto dir = scratch_dir("bad_script");
  write_text(dir / "script.txt", "# ok\nframes 1\nclick generate\n");
  EXPECT_EQ(run_shell(gui.string() + " --offscreen --script " + (dir / "script.txt").string() + " 2> " +
                      (dir / "stderr.txt").string()),
            2);
  EXPECT_NE(read_text(dir / "stderr.txt").find("script.txt:3: unknown step 'click'"), std::string::npos)
      << read_text(dir / "stderr.txt");
  EXPECT_EQ(run_shell(gui.string() + " --offscreen --max-new-tokens 0 2> " + (dir / "stderr.txt").string()), 2);
  EXPECT_NE(read_text(dir / "stderr.txt").find("--max-new-tokens"), std::string::npos);
}

}  // namespace
}  // namespace smolvk::test
