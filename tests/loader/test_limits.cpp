// The loader's input limits: each is enforced before the memory it guards is allocated, and
// the error names the limit (and the file / key it comes from).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "loader/config_json.h"
#include "loader/error.h"
#include "loader/image.h"
#include "loader/preprocess.h"
#include "loader/processor_config.h"
#include "loader/prompt.h"
#include "loader/safetensors.h"
#include "loader/tokenizer.h"
#include "tests/loader/test_tokenizer_tiny.h"
#include "tests/loader/error_of.h"
#include "tests/test_util.h"

namespace smolvk {
namespace {

using test::error_of;

std::string nested(int depth) { return std::string(size_t(depth), '[') + std::string(size_t(depth), ']'); }

std::string safetensors_image(const std::string& header) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  return out + header;
}

std::vector<TensorView> parse(const std::string& image) {
  return parse_safetensors(std::span(reinterpret_cast<const std::byte*>(image.data()), image.size()), "x.safetensors");
}

TEST(Limits, JsonNestingDepth) {
  EXPECT_NO_THROW(parse_json_text(nested(kMaxJsonDepth), "ok.json"));
  const std::string msg = error_of([] { parse_json_text(nested(kMaxJsonDepth + 1), "deep.json"); });
  EXPECT_NE(msg.find("deep.json: JSON nests deeper than the limit of 128"), std::string::npos) << msg;
  // Brackets inside strings (escaped quotes included) do not count.
  const std::string in_string = "[\"\\\"" + std::string(1000, '[') + "\"]";
  EXPECT_NO_THROW(parse_json_text(in_string, "s.json"));
  // Every reader goes through it: a safetensors header, a tokenizer.json.
  const std::string st = error_of([] { parse(safetensors_image("{\"a\":" + nested(100000) + "}")); });
  EXPECT_NE(st.find("x.safetensors: header: JSON nests deeper than the limit"), std::string::npos) << st;
  const std::string tok = error_of([] { Tokenizer::from_json(nested(5000), "t/tokenizer.json"); });
  EXPECT_NE(tok.find("t/tokenizer.json: JSON nests deeper than the limit"), std::string::npos) << tok;
}

// Fuzz finding (config target): nlohmann throws out_of_range, not parse_error, for a number
// beyond double; it escaped every JSON reader as a non-LoadError.
TEST(Limits, NumberBeyondDoubleIsALoadError) {
  const std::string msg = error_of([] { parse_json_text("{\"rope_theta\": 1e405}", "config.json"); });
  EXPECT_NE(msg.find("config.json: not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("number overflow parsing '1e405'"), std::string::npos) << msg;
}

// Fuzz finding (image target): stb_image reserved a PNG chunk's declared length (1 GB here)
// before reading it. Chunks must now fit in the file.
TEST(Limits, PngChunkLongerThanTheFile) {
  std::ifstream in(test::data_dir().parent_path() / "fuzz" / "regressions" / "image" / "png_chunk_declares_1gb",
                   std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 40u);
  const std::string msg = error_of([&] { decode_image(bytes, "x.png"); });
  EXPECT_NE(msg.find("x.png: PNG chunk 'IDAT' at byte 33 declares"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(truncated or corrupt PNG)"), std::string::npos) << msg;
}

// Fuzz findings (image target): a JPEG DHT segment with over 256 codes overflowed stb_image
// 2.27's Huffman size table; the second one got past a segment walker put in front of stb.
// JPEG is now decoded by libjpeg-turbo only, which refuses such tables; a normal JPEG still
// decodes, and input that stb would have taken for a JPEG (0xFF fill bytes, then SOI) goes to
// libjpeg too.
TEST(Limits, JpegHuffmanTableOver256Codes) {
  const auto read = [](const std::string& rel) {
    std::ifstream in(test::data_dir().parent_path() / "fuzz" / rel, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  for (const char* name : {"jpeg_dht_over_256_codes", "jpeg_dht_over_256_codes_after_app0"}) {
    const auto bad = read(std::string("regressions/image/") + name);
    ASSERT_FALSE(bad.empty()) << name;
    const std::string msg = error_of([&] { decode_image(bad, "x.jpg"); });
    EXPECT_NE(msg.find("x.jpg: cannot decode JPEG ("), std::string::npos) << name << ": " << msg;
  }
  const Image ok = decode_image(read("seeds/image/tiny_6x5.jpg"), "ok.jpg");
  EXPECT_EQ(ok.width, 6);
  EXPECT_EQ(ok.height, 5);
  const std::vector<uint8_t> filled = {0xFF, 0xFF, 0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x02};
  const std::string msg = error_of([&] { decode_image(filled, "fill.bin"); });
  EXPECT_NE(msg.find("fill.bin: cannot decode JPEG ("), std::string::npos) << msg;
}

// Fuzz finding (image target, 5-minute run): stb_image 2.27 overflows an int reading a PNM
// header number of ten or more digits. Refused first, naming the field; comments and
// whitespace between the numbers are walked as stb walks them; a normal PGM still decodes.
TEST(Limits, PnmHeaderNumbers) {
  std::ifstream in(
      test::data_dir().parent_path() / "fuzz" / "regressions" / "image" / "pnm_header_number_overflows_int",
      std::ios::binary);
  const std::vector<uint8_t> bad((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(bad.empty());
  std::string msg = error_of([&] { decode_image(bad, "x.pgm"); });
  EXPECT_NE(msg.find("x.pgm: PNM header width has 15 digits"), std::string::npos) << msg;
  const std::string commented = "P6 # made by hand\n 2 #w\n#h next\n 12345678901 255\n";
  msg = error_of([&] { decode_image(std::vector<uint8_t>(commented.begin(), commented.end()), "c.ppm"); });
  EXPECT_NE(msg.find("c.ppm: PNM header height has 11 digits"), std::string::npos) << msg;
  const std::string ok = std::string("P5 # 2x1\n2 1\n255\n") + char(7) + char(200);
  const Image img = decode_image(std::vector<uint8_t>(ok.begin(), ok.end()), "ok.pgm");
  EXPECT_EQ(img.width, 2);
  EXPECT_EQ(img.height, 1);
  EXPECT_EQ(img.rgb, (std::vector<uint8_t>{7, 7, 7, 200, 200, 200}));
}

TEST(Limits, SafetensorsRank) {
  nlohmann::json shape = nlohmann::json::array();
  for (size_t i = 0; i < kSafetensorsMaxRank + 1; ++i) shape.push_back(1);
  const nlohmann::json h = {{"w", {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {0, 4}}}}};
  const std::string msg = error_of([&] { parse(safetensors_image(h.dump()) + "abcd"); });
  EXPECT_NE(msg.find("tensor 'w': shape has 65 dimensions, over the limit of 64"), std::string::npos) << msg;
}

TEST(Limits, TokenIds) {
  test::TinyTokenizer t;
  t.j["model"]["vocab"]["big"] = int64_t(kMaxTokenId) + 1;
  std::string msg = error_of([&] { Tokenizer::from_json(t.j.dump(), "tok.json"); });
  EXPECT_NE(msg.find("token \"big\" has id 4194304, over the limit of 4194303"), std::string::npos) << msg;
  test::TinyTokenizer a;
  a.j["added_tokens"].push_back({{"id", int64_t(INT32_MAX)}, {"content", "<x>"}, {"special", true}});
  msg = error_of([&] { Tokenizer::from_json(a.j.dump(), "tok.json"); });
  EXPECT_NE(msg.find("integer 0..4194303 (kMaxTokenId)"), std::string::npos) << msg;
}

TEST(Limits, TileSideAndTilesPerImage) {
  const nlohmann::json big = {{"max_image_size", {{"longest_edge", kMaxTileSide + 1}}}};
  const std::string msg = error_of([&] { ProcessorConfig::from_json(big, "p.json"); });
  EXPECT_NE(msg.find("p.json: \"max_image_size.longest_edge\" = 4097, over the limit of 4096"), std::string::npos)
      << msg;
  ProcessorConfig tiny_tiles;  // 4-pixel tiles of a 4096-pixel image: 1024 × 1024 tiles
  tiny_tiles.longest_edge = 4096;
  tiny_tiles.max_image_longest_edge = 4;
  const Image img{8, 8, std::vector<uint8_t>(8 * 8 * 3, 7)};
  const std::string tiles = error_of([&] { preprocess_image(img, tiny_tiles); });
  EXPECT_NE(tiles.find("would make 1024x1024 tiles, over the limit of 1024 per image"), std::string::npos) << tiles;
}

TEST(Limits, PromptImageTokens) {
  const ImageTokens tok;
  const std::vector<ImageGrid> grids = {{4, 4}, {0, 0}};
  EXPECT_NO_THROW(expand_image_tokens("<image><image>", grids, 64, tok));
  std::string msg = error_of([&] { expand_image_tokens("<image><image>", grids, 1 << 14, tok); });
  EXPECT_NE(msg.find("need over 262144 image tokens, the limit for one prompt"), std::string::npos) << msg;
  const std::vector<ImageGrid> huge = {{1 << 30, 1 << 30}};  // no overflow on the way
  msg = error_of([&] { expand_image_tokens("<image>", huge, 1 << 18, tok); });
  EXPECT_NE(msg.find("need over 262144 image tokens, the limit for one prompt"), std::string::npos) << msg;
  msg = error_of([&] { expand_image_tokens("no image", {}, INT32_MAX, tok); });  // fuzz regression
  EXPECT_NE(msg.find("image_seq_len = 2147483647, expected 1..262144"), std::string::npos) << msg;
  ImageTokens long_tok;
  long_tok.fake_image = std::string(300, 'f');
  msg = error_of([&] { expand_image_tokens("<image>", grids, 1, long_tok); });
  EXPECT_NE(msg.find("image token string of 300 bytes, over the limit of 256"), std::string::npos) << msg;
}

}  // namespace
}  // namespace smolvk
