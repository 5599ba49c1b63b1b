// Prompt text and ids parity with transformers' processor on every golden request.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "loader/processor_config.h"
#include "loader/prompt.h"
#include "loader/tokenizer.h"
#include "tests/golden_json.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;

TEST(PromptGolden, TextAndIdsMatchTransformers) {
  int checked_text = 0, checked_ids = 0;
  ASSERT_TRUE(fs::is_directory(test::data_dir())) << "no fixtures under " << test::data_dir();
  for (const auto& entry : fs::directory_iterator(test::data_dir())) {
    const fs::path dir = entry.path();
    if (!fs::exists(dir / "golden" / "golden.json")) continue;
    const auto g = test::read_golden(dir);
    const ChatTemplate tmpl = ChatTemplate::load(dir);
    const ImageTokens tokens = ImageTokens::load(dir);
    const ProcessorConfig cfg = ProcessorConfig::load(dir);
    const Tokenizer tok = Tokenizer::load(dir / "tokenizer.json");
    for (const auto& r : g.at("requests")) {
      SCOPED_TRACE(dir.filename().string() + "/" + r.value("name", "?"));
      // prompt_text is the chat text given to the processor; input_ids are of its expansion.
      // Direct model calls carry a prompt already expanded by hand.
      const auto& texts = r.at("prompt_text");
      const bool direct = r.value("direct_call", false);
      if (r.contains("image_seq_len")) {
        EXPECT_EQ(cfg.image_seq_len, r["image_seq_len"].get<int>());
      }
      for (size_t b = 0; b < texts.size(); ++b) {
        const std::string text = texts[b].get<std::string>();
        if (r.contains("messages") && r["messages"].is_array()) {
          EXPECT_EQ(tmpl.apply(test::chat_from_json(r["messages"][b]), true), text) << "batch row " << b;
          ++checked_text;
        }
        std::vector<ImageGrid> grids;
        if (r.contains("rows") && r["rows"].is_array())
          for (size_t i = 0; i < r["rows"][b].size(); ++i)
            grids.push_back({r["rows"][b][i].get<int>(), r["cols"][b][i].get<int>()});
        const std::string expanded = direct ? text : expand_image_tokens(text, grids, cfg.image_seq_len, tokens);

        std::vector<int32_t> want;
        const auto& ids = r.at("input_ids")[b];
        const auto& mask = r.at("attention_mask")[b];
        for (size_t i = 0; i < ids.size(); ++i)
          if (mask[i].get<int>() == 1) want.push_back(ids[i].get<int32_t>());
        const auto bos = tok.bos_prefix();
        std::vector<int32_t> got(bos.begin(), bos.end());
        const auto enc = tok.encode(expanded);
        got.insert(got.end(), enc.begin(), enc.end());
        EXPECT_EQ(got, want) << "batch row " << b;
        ++checked_ids;
      }
    }
  }
  EXPECT_GT(checked_ids, 0) << "no golden requests found under " << test::data_dir();
  EXPECT_GT(checked_text, 0);
}

}  // namespace
}  // namespace smolvk
