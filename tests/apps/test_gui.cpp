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

// Pixels of the error panel (dark red, lower left) in a screenshot.
int error_panel_pixels(const Image& shot) {
  int red = 0;
  for (int y = int(0.72 * shot.height); y < int(0.97 * shot.height); ++y)
    for (int x = int(0.03 * shot.width); x < int(0.5 * shot.width); ++x) {
      const uint8_t* p = shot.pixel(x, y);
      red += p[0] > 35 && p[0] > 2 * p[1] && p[0] > 2 * p[2];
    }
  return red;
}

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
  EXPECT_GT(error_panel_pixels(load_image(dir / "shot.png")), 1000);
}

// A lost device (injected by the script) shows its error; "Reload model" makes a new Context
// and loads the model again, and the same prompt then gives the same greedy answer as before
// the loss. Both ways of drawing: on a UI device of its own, and sharing the compute device
// (the frame loop moves its target to the new Context).
TEST(GuiOffscreen, DeviceLostShowsTheErrorAndReloadRecovers) {
  auto gui = gui_or_skip();
  for (const char* ui : {"own", "shared"}) {
    SCOPED_TRACE(ui);
    auto dir = scratch_dir(std::string("device_lost_") + ui);
    write_text(dir / "script.txt",
               "wait_done\nprompt Hello there\nset max_new_tokens 4\ngenerate\nwait_done\nsession " +
                   (dir / "before.json").string() + "\nfault device_lost_after:1\ngenerate\nwait_done\nscreenshot " +
                   (dir / "lost.png").string() + "\nsession " + (dir / "lost.json").string() +
                   "\nreload\nwait_done\ngenerate\nwait_done\nframes 2\n");
    ASSERT_EQ(run_shell(gui.string() + " --offscreen --size 800x600 --ui-device " + ui + " --script " +
                        (dir / "script.txt").string() + " --session " + (dir / "after.json").string() + " 2> " +
                        (dir / "stderr.txt").string()),
              0)
        << read_text(dir / "stderr.txt");

    auto before = read_json(dir / "before.json");
    EXPECT_TRUE(before["errors"].empty()) << before["errors"].dump(1);
    EXPECT_FALSE(before["device_lost"].get<bool>());
    const std::vector<int32_t> answer = before["output_ids"];
    ASSERT_EQ(answer.size(), 4u);

    auto lost = read_json(dir / "lost.json");
    EXPECT_EQ(lost["ui_device"], ui);
    EXPECT_TRUE(lost["device_lost"].get<bool>());
    ASSERT_EQ(lost["errors"].size(), 1u) << lost["errors"].dump(1);
    const std::string err = lost["errors"][0];
    EXPECT_NE(err.find("generate \"Hello there\": device lost"), std::string::npos) << err;
    EXPECT_NE(err.find("VK_ERROR_DEVICE_LOST"), std::string::npos) << err;
    EXPECT_NE(err.find("Reload model"), std::string::npos) << err;
    ASSERT_EQ(lost["turns"].size(), 2u);
    EXPECT_EQ(lost["turns"][1]["stop_reason"], "error");
    EXPECT_TRUE(lost["turns"][1]["output_ids"].empty());
    EXPECT_GT(error_panel_pixels(load_image(dir / "lost.png")), 1000);  // the error is on screen

    auto after = read_json(dir / "after.json");
    EXPECT_TRUE(after["validation_messages"].empty()) << after["validation_messages"].dump(1);
    EXPECT_FALSE(after["device_lost"].get<bool>());
    EXPECT_EQ(after["reloads"], 1);
    EXPECT_EQ(after["errors"].size(), 1u) << after["errors"].dump(1);  // the loss only: nothing new
    ASSERT_EQ(after["turns"].size(), 1u);                              // the reload started a fresh chat
    EXPECT_EQ(after["stop_reason"], "length");
    EXPECT_EQ(after["output_ids"].get<std::vector<int32_t>>(), answer);
    EXPECT_EQ(after["input_ids"], before["input_ids"]);
    ASSERT_TRUE(after.contains("model"));
  }
}

// Text beyond ASCII (what a model's answer may hold) is drawn with a wide-coverage TrueType
// font from Debian's fonts-dejavu-core; without one, the built-in font, said once on stderr.
TEST(GuiOffscreen, DrawsWithAWideCoverageFontOrSaysItFallsBack) {
  auto gui = gui_or_skip();
  auto dir = scratch_dir("font");
  write_text(dir / "script.txt",
             "wait_done\nprompt Ωμέγα, Привет — “quoted” … 5 € \xEF\xBF\xBD\nframes 3\nscreenshot " +
                 (dir / "shot.png").string() + "\n");
  ASSERT_EQ(run_shell(gui.string() + " --offscreen --size 640x480 --script " + (dir / "script.txt").string() +
                      " --session " + (dir / "session.json").string() + " 2> " + (dir / "stderr.txt").string()),
            0)
      << read_text(dir / "stderr.txt");
  auto s = read_json(dir / "session.json");
  EXPECT_TRUE(s["validation_messages"].empty()) << s["validation_messages"].dump(1);
  EXPECT_EQ(s["font"]["text"], "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") << s["font"].dump(1);
  EXPECT_EQ(s["font"]["missing"], nlohmann::json::array()) << s["font"].dump(1);
  EXPECT_EQ(read_text(dir / "stderr.txt").find("built-in font"), std::string::npos) << read_text(dir / "stderr.txt");

  ASSERT_EQ(run_shell("SMOLVK_GUI_FONT_ROOTS=" + (dir / "no-fonts").string() + " " + gui.string() +
                      " --offscreen --size 640x480 --script " + (dir / "script.txt").string() + " --session " +
                      (dir / "fallback.json").string() + " 2> " + (dir / "stderr.txt").string()),
            0)
      << read_text(dir / "stderr.txt");
  auto f = read_json(dir / "fallback.json");
  EXPECT_EQ(f["font"]["text"], "built-in") << f["font"].dump(1);
  EXPECT_FALSE(f["font"]["missing"].empty()) << f["font"].dump(1);  // ASCII only: Ω and Ж are not there
  const std::string err = read_text(dir / "stderr.txt");
  const std::string said = "using Dear ImGui's built-in font";
  ASSERT_NE(err.find(said), std::string::npos) << err;
  EXPECT_EQ(err.find(said, err.find(said) + 1), std::string::npos) << "said more than once:\n" << err;
  EXPECT_NE(err.find("fonts-dejavu-core"), std::string::npos) << err;
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
  write_text(dir / "fault.txt", "frames 1\nfault device_lost_after:0\n");
  EXPECT_EQ(run_shell(gui.string() + " --offscreen --script " + (dir / "fault.txt").string() + " 2> " +
                      (dir / "stderr.txt").string()),
            2);
  EXPECT_NE(
      read_text(dir / "stderr.txt").find("fault.txt:2: 'fault device_lost_after:0': expected device_lost_after:N"),
      std::string::npos)
      << read_text(dir / "stderr.txt");
  EXPECT_EQ(run_shell(gui.string() + " --offscreen --max-new-tokens 0 2> " + (dir / "stderr.txt").string()), 2);
  EXPECT_NE(read_text(dir / "stderr.txt").find("--max-new-tokens"), std::string::npos);
}

}  // namespace
}  // namespace smolvk::test
