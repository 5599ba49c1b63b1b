// smolvk-gui with a window, under Xvfb (lavapipe presents through X11).
#include <gtest/gtest.h>

#include "tests/apps/gui_test_util.h"

namespace smolvk::test {
namespace {

TEST(GuiWindowed, AnswersUnderXvfb) {
  if (run_shell("command -v xvfb-run > /dev/null") != 0)
    GTEST_SKIP() << "xvfb-run is not installed (Debian: xvfb); the windowed test needs it";
  auto gui = app_binary("smolvk-gui");
  ASSERT_TRUE(std::filesystem::exists(gui)) << gui << " was not built";
  auto dir = scratch_dir("windowed");
  write_text(dir / "script.txt", "image " + (examples_dir() / "checkerboard_200x300.png").string() +
                                     "\nprompt Describe the image.\nset max_new_tokens 3\ngenerate\nwait_done\n"
                                     "frames 5\n");
  ASSERT_EQ(run_shell("xvfb-run -a -s '-screen 0 1280x800x24' " + gui.string() + " --script " +
                      (dir / "script.txt").string() + " --session " + (dir / "session.json").string() + " 2> " +
                      (dir / "stderr.txt").string()),
            0)
      << read_text(dir / "stderr.txt");
  auto s = read_json(dir / "session.json");
  EXPECT_TRUE(s["validation_messages"].empty()) << s["validation_messages"].dump(1);
  EXPECT_TRUE(s["errors"].empty()) << s["errors"].dump(1);
  EXPECT_EQ(s["output_ids"].size(), 3u);
  EXPECT_GE(s["frames"]["frames"].get<int>(), 5);
}

// Sharing the compute device, "Reload model" after a lost device moves the swapchain and
// ImGui's backend to the new Context; the window keeps drawing and the next answer comes.
TEST(GuiWindowed, ReloadAfterDeviceLossMovesTheSwapchainToTheNewContext) {
  if (run_shell("command -v xvfb-run > /dev/null") != 0)
    GTEST_SKIP() << "xvfb-run is not installed (Debian: xvfb); the windowed test needs it";
  auto gui = app_binary("smolvk-gui");
  ASSERT_TRUE(std::filesystem::exists(gui)) << gui << " was not built";
  auto dir = scratch_dir("windowed_reload");
  write_text(dir / "script.txt",
             "wait_done\nprompt Hello\nset max_new_tokens 2\nfault device_lost_after:1\n"
             "generate\nwait_done\nframes 3\nsession " +
                 (dir / "lost.json").string() + "\nreload\nwait_done\ngenerate\nwait_done\nframes 5\n");
  ASSERT_EQ(run_shell("xvfb-run -a -s '-screen 0 1280x800x24' " + gui.string() + " --ui-device shared --script " +
                      (dir / "script.txt").string() + " --session " + (dir / "session.json").string() + " 2> " +
                      (dir / "stderr.txt").string()),
            0)
      << read_text(dir / "stderr.txt");
  auto lost = read_json(dir / "lost.json");
  EXPECT_TRUE(lost["device_lost"].get<bool>());
  ASSERT_EQ(lost["errors"].size(), 1u) << lost["errors"].dump(1);
  EXPECT_NE(lost["errors"][0].get<std::string>().find("device lost"), std::string::npos) << lost["errors"][0];
  auto s = read_json(dir / "session.json");
  EXPECT_EQ(s["ui_device"], "shared");
  EXPECT_TRUE(s["validation_messages"].empty()) << s["validation_messages"].dump(1);
  EXPECT_FALSE(s["device_lost"].get<bool>());
  EXPECT_EQ(s["reloads"], 1);
  EXPECT_EQ(s["output_ids"].size(), 2u);
  EXPECT_EQ(s["stop_reason"], "length");
  EXPECT_GT(s["frames"]["frames"].get<int>(), lost["frames"]["frames"].get<int>());  // drawn after the move
}

}  // namespace
}  // namespace smolvk::test
