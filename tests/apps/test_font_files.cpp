// The GUI's font finder (apps/gui/font_files.h) on fake font folders: it takes the preferred
// Debian font that is there, passes over files that are not fonts, and finds nothing (so the
// GUI falls back to ImGui's built-in font) when no candidate is installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "apps/gui/font_files.h"

namespace {

namespace fs = std::filesystem;
using smolvk::gui::find_fonts;
using smolvk::gui::looks_like_font_file;

struct FakeRoots : ::testing::Test {
  fs::path base = fs::temp_directory_path() / ("smolvk-font-test-" + std::to_string(::getpid()));
  fs::path usr = base / "usr-share-fonts", local = base / "usr-local-share-fonts";
  void SetUp() override {
    fs::remove_all(base);
    fs::create_directories(usr);
    fs::create_directories(local);
  }
  void TearDown() override { fs::remove_all(base); }
  // A file that starts like a TrueType font (the tag and a few bytes of table directory).
  void font(const fs::path& root, const std::string& rel, const std::string& tag = std::string("\0\1\0\0", 4)) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel, std::ios::binary) << tag << std::string(60, '\x01');
  }
  void text(const fs::path& root, const std::string& rel, const std::string& content) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel, std::ios::binary) << content;
  }
};

TEST_F(FakeRoots, PicksDejaVuFirstAndNotoCjkAlongside) {
  font(usr, "truetype/noto/NotoSans-Regular.ttf");
  font(usr, "truetype/dejavu/DejaVuSans.ttf");
  font(usr, "opentype/noto/NotoSansCJK-Regular.ttc", std::string("ttcf\0\1\0\0\0\0\0\4", 12));
  auto f = find_fonts({usr, local});
  ASSERT_TRUE(f.text.has_value());
  EXPECT_EQ(*f.text, usr / "truetype/dejavu/DejaVuSans.ttf");
  ASSERT_TRUE(f.cjk.has_value());
  EXPECT_EQ(*f.cjk, usr / "opentype/noto/NotoSansCJK-Regular.ttc");
}

TEST_F(FakeRoots, TakesTheNextCandidateAndLaterRoots) {
  font(local, "truetype/noto/NotoSans-Regular.ttf");  // DejaVu absent: Noto, in the second root
  font(local, "truetype/droid/DroidSansFallbackFull.ttf", "true");
  auto f = find_fonts({usr, local});
  ASSERT_TRUE(f.text.has_value());
  EXPECT_EQ(*f.text, local / "truetype/noto/NotoSans-Regular.ttf");
  ASSERT_TRUE(f.cjk.has_value());
  EXPECT_EQ(*f.cjk, local / "truetype/droid/DroidSansFallbackFull.ttf");
  // The same font in an earlier root wins.
  font(usr, "truetype/noto/NotoSans-Regular.ttf", "OTTO");
  EXPECT_EQ(find_fonts({usr, local}).text, usr / "truetype/noto/NotoSans-Regular.ttf");
}

TEST_F(FakeRoots, PassesOverFilesThatAreNotFonts) {
  text(usr, "truetype/dejavu/DejaVuSans.ttf", "<html>404 not found</html>\n");  // a bad download
  fs::create_directories(usr / "truetype/noto/NotoSans-Regular.ttf");           // a folder
  font(usr, "truetype/freefont/FreeSans.ttf");
  text(usr, "opentype/noto/NotoSansCJK-Regular.ttc", std::string("ttcf\0\1\0\0\0\0\0\0", 12));  // no fonts in it
  text(usr, "truetype/wqy/wqy-microhei.ttc", "");                                               // empty
  auto f = find_fonts({usr});
  ASSERT_TRUE(f.text.has_value());
  EXPECT_EQ(*f.text, usr / "truetype/freefont/FreeSans.ttf");
  EXPECT_FALSE(f.cjk.has_value()) << *f.cjk;
  EXPECT_FALSE(looks_like_font_file(usr / "truetype/dejavu/DejaVuSans.ttf"));
  EXPECT_FALSE(looks_like_font_file(usr / "missing.ttf"));
  EXPECT_TRUE(looks_like_font_file(usr / "truetype/freefont/FreeSans.ttf"));
}

TEST_F(FakeRoots, NothingInstalledOrMissingRootsFindNothing) {
  font(usr, "truetype/unknown/SomeFont.ttf");  // not a candidate
  auto f = find_fonts({usr, base / "does-not-exist"});
  EXPECT_FALSE(f.text.has_value());
  EXPECT_FALSE(f.cjk.has_value());
  EXPECT_FALSE(find_fonts({}).text.has_value());
}

// The real roots: where Debian's fonts-dejavu-core (in the README's and CI's package list)
// installs DejaVu Sans, the finder takes it.
TEST(FontFiles, FindsDebiansDejaVuWhereItIsInstalled) {
  const fs::path dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  ASSERT_TRUE(fs::exists(dejavu)) << dejavu << " is missing: apt-get install fonts-dejavu-core";
  auto f = find_fonts(smolvk::gui::default_font_roots());
  ASSERT_TRUE(f.text.has_value());
  EXPECT_EQ(*f.text, dejavu);
}

}  // namespace
