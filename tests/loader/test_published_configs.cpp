// The published checkpoints' own config files (tests/data/configs/<checkpoint>/, where each
// came from is in tests/data/configs/SOURCES.md) read by the loader the way Checkpoint::open
// reads them, against the facts transformers computes from the same files with its class
// defaults for absent keys. A folder holds only the files that could be found; each check runs
// where its file is present.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "loader/config.h"
#include "loader/config_json.h"
#include "loader/generation_config.h"
#include "loader/preprocess.h"
#include "loader/processor_config.h"
#include "loader/prompt.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// config.json of the checkpoint (the hub values of smolvlm-reference.md's table).
struct ModelShape {
  const char* architecture;
  int64_t vision_hidden, vision_layers, vision_heads, image_size, patch_size, scale_factor;
  int64_t text_hidden, text_layers, text_heads, kv_heads, head_dim, vocab;
  double rope_theta;
  int64_t image_token_id;
};

struct Published {
  const char* folder;
  ModelShape model;
  // preprocessor_config.json (max_image_size.longest_edge, size.longest_edge) and
  // processor_config.json (image_seq_len); Idefics3ImageProcessor / Idefics3Processor defaults
  // (364, 4 * 364, 169) where the checkpoint leaves a key or the file out.
  int tile, longest_edge, image_seq_len;
  // generation_config.json
  std::vector<int64_t> eos;
  int64_t bos, pad;
  // The literal text before the chat template's message loop.
  const char* template_prefix;
};

const std::vector<Published>& published() {
  static const std::vector<Published> p = {
      {"SmolVLM-256M-Instruct",
       {"Idefics3ForConditionalGeneration", 768, 12, 12, 512, 16, 4, 576, 30, 9, 3, 64, 49280, 1e5, 49190},
       512,
       2048,
       64,
       {49279},
       0,
       2,
       "<|im_start|>"},
      {"SmolVLM-500M-Instruct",
       {"Idefics3ForConditionalGeneration", 768, 12, 12, 512, 16, 4, 960, 32, 15, 5, 64, 49280, 1e5, 49190},
       512,
       2048,
       64,
       {49279},
       0,
       2,
       "<|im_start|>"},
      {"SmolVLM-Instruct",
       {"Idefics3ForConditionalGeneration", 1152, 27, 16, 384, 14, 3, 2048, 24, 32, 32, 64, 49155, 273768, 49153},
       384,
       1536,
       81,
       {49154},
       0,
       2,
       "<|im_start|>"},
      {"SmolVLM2-256M-Video-Instruct",
       {"SmolVLMForConditionalGeneration", 768, 12, 12, 512, 16, 4, 576, 30, 9, 3, 64, 49280, 1e5, 49190},
       512,
       2048,
       64,
       {49279},
       0,
       2,
       "<|im_start|>"},
      {"SmolVLM2-500M-Video-Instruct",
       {"SmolVLMForConditionalGeneration", 768, 12, 12, 512, 16, 4, 960, 32, 15, 5, 64, 49280, 1e5, 49190},
       512,
       2048,
       64,
       {49279},
       0,
       2,
       "<|im_start|>"},
      {"SmolVLM2-2.2B-Instruct",
       {"SmolVLMForConditionalGeneration", 1152, 27, 16, 384, 14, 3, 2048, 24, 32, 32, 64, 49280, 273768, 49190},
       384,
       1536,
       81,
       {49279},
       0,
       2,
       "<|im_start|>"},
      // SigLIP-so400m at 364 px (26 x 26 patches, scale 2 -> 169 tokens) and Llama 3.1 8B.
      {"Idefics3-8B-Llama3",
       {"Idefics3ForConditionalGeneration", 1152, 27, 16, 364, 14, 2, 4096, 32, 32, 8, 128, 128259, 500000, 128257},
       364,
       1456,
       169,
       {128001, 128008, 128009, 128258},
       128000,
       128002,
       "<|begin_of_text|>"},
  };
  return p;
}

fs::path configs_dir() { return test::data_dir() / "configs"; }

bool has(const Published& p, const char* file) { return fs::exists(configs_dir() / p.folder / file); }

json read(const Published& p, const char* file) { return read_config_json_file(configs_dir() / p.folder / file); }

// The model facts the processor files must agree with: (image_size / patch_size)^2 / scale^2.
int64_t image_seq_len(const ModelShape& m) {
  const int64_t side = m.image_size / m.patch_size;
  return side * side / (m.scale_factor * m.scale_factor);
}

TEST(PublishedConfigs, EveryFileIsKnownAndHasItsSource) {
  std::ifstream f(configs_dir() / "SOURCES.md");
  ASSERT_TRUE(f) << "tests/data/configs/SOURCES.md is missing";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string sources = ss.str();
  std::set<std::string> known;
  for (const Published& p : published()) known.insert(p.folder);
  const std::set<std::string> allowed = {
      "config.json",        "preprocessor_config.json", "processor_config.json",  "tokenizer_config.json",
      "chat_template.json", "chat_template.jinja",      "generation_config.json", "special_tokens_map.json"};
  int files = 0;
  for (const auto& dir : fs::directory_iterator(configs_dir())) {
    if (!dir.is_directory()) continue;
    const std::string name = dir.path().filename().string();
    EXPECT_TRUE(known.count(name)) << name << ": a checkpoint folder without expected values in this test";
    for (const auto& file : fs::directory_iterator(dir.path())) {
      const std::string fname = file.path().filename().string();
      EXPECT_TRUE(allowed.count(fname)) << name << "/" << fname << ": not one of the published config files";
      EXPECT_NE(sources.find("`" + name + "/" + fname + "`"), std::string::npos)
          << name << "/" << fname << " has no entry in SOURCES.md";
      ++files;
    }
  }
  EXPECT_GT(files, 0);
}

TEST(PublishedConfigs, TokensPerTileFromTheModelShapes) {
  for (const Published& p : published()) {
    SCOPED_TRACE(p.folder);
    EXPECT_EQ(image_seq_len(p.model), p.image_seq_len);
  }
  const ModelShape& smolvlm = published()[2].model;
  EXPECT_EQ(smolvlm.image_size / smolvlm.patch_size, 27);
  EXPECT_EQ(image_seq_len(smolvlm), 81);
  const ModelShape& idefics3 = published().back().model;
  EXPECT_EQ(idefics3.image_size / idefics3.patch_size, 26);
  EXPECT_EQ(image_seq_len(idefics3), 169);
}

TEST(PublishedConfigs, ProcessorConfigs) {
  int checked = 0;
  for (const Published& p : published()) {
    SCOPED_TRACE(p.folder);
    if (has(p, "preprocessor_config.json")) {
      // As Checkpoint::open reads it: preprocessor_config.json + processor_config.json.
      const ProcessorConfig c = ProcessorConfig::load(configs_dir() / p.folder);
      EXPECT_EQ(c.max_image_longest_edge, p.tile);
      EXPECT_EQ(c.longest_edge, p.longest_edge);
      EXPECT_EQ(c.image_seq_len, p.image_seq_len);
      EXPECT_TRUE(c.do_resize);
      EXPECT_TRUE(c.do_image_splitting);
      EXPECT_TRUE(c.do_convert_rgb);
      EXPECT_TRUE(c.do_rescale);
      EXPECT_TRUE(c.do_normalize);
      EXPECT_EQ(c.resample, Resample::Lanczos);  // "resample": 1
      EXPECT_EQ(c.rescale_factor, 1.0 / 255.0);
      for (int ch = 0; ch < 3; ++ch) {
        EXPECT_EQ(c.image_mean[ch], 0.5);
        EXPECT_EQ(c.image_std[ch], 0.5);
      }
      // The tiles are the vision encoder's input and hold image_seq_len tokens each.
      EXPECT_NO_THROW(
          c.check_against_model(int(p.model.image_size), int(p.model.patch_size), int(p.model.scale_factor), p.folder));
      // A 2048 x 2048 image: resized to longest_edge, split into 4 x 4 tiles + the global one.
      Image img;
      img.width = img.height = 2048;
      img.rgb.assign(size_t(2048) * 2048 * 3, 0);
      const ProcessedImage layout = image_layout(img, c);
      EXPECT_EQ(layout.rows, p.longest_edge / p.tile);
      EXPECT_EQ(layout.cols, p.longest_edge / p.tile);
      EXPECT_EQ(layout.num_tiles, 17);
      EXPECT_EQ(layout.height, p.tile);
      ++checked;
    } else if (has(p, "processor_config.json")) {
      // No image-processor file: only image_seq_len can be checked (the tile size would be
      // the class default, not the checkpoint's).
      const json proc = read(p, "processor_config.json");
      const ProcessorConfig c = ProcessorConfig::from_json(json::object(), "(none)", &proc, "processor_config.json");
      EXPECT_EQ(c.image_seq_len, p.image_seq_len);
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(PublishedConfigs, Idefics3UsesProcessorDefaults) {
  // Idefics3-8B's preprocessor_config.json has no max_image_size and the repository has no
  // processor_config.json: Idefics3ImageProcessor's 364 and Idefics3Processor's 169 apply.
  const Published& p = published().back();
  ASSERT_STREQ(p.folder, "Idefics3-8B-Llama3");
  ASSERT_TRUE(has(p, "preprocessor_config.json"));
  EXPECT_FALSE(read(p, "preprocessor_config.json").contains("max_image_size"));
  EXPECT_FALSE(has(p, "processor_config.json"));
  const ProcessorConfig c = ProcessorConfig::load(configs_dir() / p.folder);
  EXPECT_EQ(c.max_image_longest_edge, 364);
  EXPECT_EQ(c.image_seq_len, 169);
}

TEST(PublishedConfigs, GenerationConfigs) {
  int checked = 0;
  for (const Published& p : published()) {
    if (!has(p, "generation_config.json")) continue;
    SCOPED_TRACE(p.folder);
    const GenerationConfig g = load_generation_config(configs_dir() / p.folder);
    EXPECT_TRUE(g.from_file);
    EXPECT_EQ(g.eos_token_ids, p.eos);
    EXPECT_EQ(g.bos_token_id, p.bos);
    EXPECT_EQ(g.pad_token_id, p.pad);
    EXPECT_FALSE(g.max_new_tokens.has_value());
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// transformers' apply_chat_template on [{"role": "user", "content": [{"type": "image"},
// {"type": "text", "text": ...}]}] with add_generation_prompt=True. Reading the published Jinja:
// the literal prefix; `message['role'] | capitalize` (Idefics3-8B: `.capitalize()`) -> "User";
// content[0] is an image -> ':' (else ': '); the items in order, image -> '<image>', text
// verbatim; '<end_of_utterance>' and a newline (the JSON's "\n"); then 'Assistant:'.
TEST(PublishedConfigs, ChatTemplates) {
  const std::vector<ChatMessage> one_image = {
      {"user", {{ChatItem::Image, {}}, {ChatItem::Text, "Can you describe this image?"}}}};
  const std::vector<ChatMessage> turns = {{"user", {{ChatItem::Text, "Hi"}}},
                                          {"assistant", {{ChatItem::Text, " Hello."}}},
                                          {"user", {{ChatItem::Text, "What is in"}, {ChatItem::Image, {}}}}};
  int checked = 0;
  for (const Published& p : published()) {
    if (!has(p, "chat_template.json") && !has(p, "chat_template.jinja")) continue;
    SCOPED_TRACE(p.folder);
    const ChatTemplate t = ChatTemplate::load(configs_dir() / p.folder);
    const std::string prefix = p.template_prefix;
    EXPECT_EQ(t.prefix(), prefix);
    EXPECT_EQ(t.apply(one_image, true),
              prefix + "User:<image>Can you describe this image?<end_of_utterance>\nAssistant:");
    EXPECT_EQ(t.apply(one_image, false), prefix + "User:<image>Can you describe this image?<end_of_utterance>\n");
    EXPECT_EQ(t.apply(turns, true), prefix +
                                        "User: Hi<end_of_utterance>\nAssistant:  Hello.<end_of_utterance>\n"
                                        "User: What is in<image><end_of_utterance>\nAssistant:");
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace smolvk
