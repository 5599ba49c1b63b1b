#include <gtest/gtest.h>

#include <cstring>

#include "loader/error.h"
#include "loader/safetensors.h"
#include "tests/loader/test_safetensors_builder.h"

namespace smolvk {
namespace {

using test::SafetensorsBuilder;
using test::TempDir;

std::string error_of(const std::filesystem::path& p) {
  try {
    SafeTensors::open(p);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "(no error)";
}

float read_f32(const TensorView& t, size_t i) {
  float v;
  std::memcpy(&v, t.data + 4 * i, 4);
  return v;
}

TEST(SafeTensors, SingleFileViewsPointAtTheData) {
  TempDir dir;
  SafetensorsBuilder b;
  b.add("a", {2, 3}, "F32", 10.0f).add("b", {4}, "BF16").add("c", {}, "F32", 7.0f).add("ids", {3}, "I64");
  b.header["__metadata__"] = {{"format", "pt"}};
  b.write(dir / "model.safetensors");

  auto st = SafeTensors::open(dir.path());
  EXPECT_EQ(st.size(), 4u);
  EXPECT_EQ(st.names(), (std::vector<std::string>{"a", "b", "c", "ids"}));
  const auto& a = st.at("a");
  EXPECT_EQ(a.dtype, TensorDType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.bytes, 24u);
  EXPECT_EQ(a.numel(), 6);
  EXPECT_EQ(read_f32(a, 0), 10.0f);
  EXPECT_EQ(read_f32(a, 5), 15.0f);
  EXPECT_EQ(st.at("b").dtype, TensorDType::BF16);
  EXPECT_EQ(st.at("b").bytes, 8u);
  EXPECT_EQ(st.at("c").shape.size(), 0u);  // a scalar: one element
  EXPECT_EQ(read_f32(st.at("c"), 0), 7.0f);
  EXPECT_FALSE(is_float(st.at("ids").dtype));  // readable, but flagged
  EXPECT_EQ(st.find("missing"), nullptr);
  EXPECT_EQ(st.at("a").file, (dir / "model.safetensors").string());
  EXPECT_EQ(st.files().size(), 1u);
}

TEST(SafeTensors, MovedObjectKeepsValidViews) {
  TempDir dir;
  SafetensorsBuilder().add("w", {3}, "F32", 1.0f).write(dir / "x.safetensors");
  auto st = SafeTensors::open(dir / "x.safetensors");
  const TensorView* before = st.find("w");
  SafeTensors moved = std::move(st);
  EXPECT_EQ(read_f32(moved.at("w"), 2), 3.0f);
  EXPECT_EQ(before->data, moved.at("w").data);
}

TEST(SafeTensors, ShardedIndex) {
  TempDir dir;
  SafetensorsBuilder().add("x", {2}, "F32", 1.0f).add("y", {1}).write(dir / "model-00001-of-00002.safetensors");
  SafetensorsBuilder().add("z", {3}, "F16").write(dir / "model-00002-of-00002.safetensors");
  nlohmann::json index = {{"metadata", {{"total_size", 18}}},
                          {"weight_map",
                           {{"x", "model-00001-of-00002.safetensors"},
                            {"y", "model-00001-of-00002.safetensors"},
                            {"z", "model-00002-of-00002.safetensors"}}}};
  test::write_bytes(dir / "model.safetensors.index.json", index.dump());
  auto st = SafeTensors::open(dir.path());
  EXPECT_EQ(st.size(), 3u);
  EXPECT_EQ(st.files().size(), 2u);
  EXPECT_EQ(st.at("z").file, (dir / "model-00002-of-00002.safetensors").string());
  EXPECT_EQ(read_f32(st.at("x"), 1), 2.0f);
}

TEST(SafeTensorsErrors, MissingShardFileIsNamed) {
  TempDir dir;
  SafetensorsBuilder().add("x", {2}).write(dir / "a.safetensors");
  nlohmann::json index = {{"weight_map", {{"x", "a.safetensors"}, {"y", "b.safetensors"}}}};
  test::write_bytes(dir / "model.safetensors.index.json", index.dump());
  auto msg = error_of(dir.path());
  EXPECT_NE(msg.find("b.safetensors does not exist"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'y'"), std::string::npos) << msg;
}

TEST(SafeTensorsErrors, TensorListedButAbsentFromShard) {
  TempDir dir;
  SafetensorsBuilder().add("x", {2}).write(dir / "a.safetensors");
  nlohmann::json index = {{"weight_map", {{"x", "a.safetensors"}, {"ghost", "a.safetensors"}}}};
  test::write_bytes(dir / "model.safetensors.index.json", index.dump());
  auto msg = error_of(dir.path());
  EXPECT_NE(msg.find("tensor 'ghost' is listed in shard a.safetensors but absent"), std::string::npos) << msg;
}

TEST(SafeTensorsErrors, ShardNameOutsideFolderRefused) {
  TempDir dir;
  nlohmann::json index = {{"weight_map", {{"x", "../a.safetensors"}}}};
  test::write_bytes(dir / "model.safetensors.index.json", index.dump());
  auto msg = error_of(dir.path());
  EXPECT_NE(msg.find("\"../a.safetensors\": expected a file name in the same folder"), std::string::npos) << msg;
}

TEST(SafeTensorsErrors, IndexWithoutWeightMap) {
  TempDir dir;
  test::write_bytes(dir / "model.safetensors.index.json", R"({"metadata": {}})");
  EXPECT_NE(error_of(dir.path()).find("weight_map"), std::string::npos);
}

TEST(SafeTensorsErrors, NoCheckpointInFolder) {
  TempDir dir;
  auto msg = error_of(dir.path());
  EXPECT_NE(msg.find("neither model.safetensors nor model.safetensors.index.json"), std::string::npos) << msg;
}

TEST(SafeTensorsErrors, FileShorterThanLengthField) {
  TempDir dir;
  test::write_bytes(dir / "m.safetensors", std::string("\x05\x00\x00", 3));
  auto msg = error_of(dir / "m.safetensors");
  EXPECT_NE(msg.find("3 bytes, too short"), std::string::npos) << msg;
  test::write_bytes(dir / "empty.safetensors", "");
  EXPECT_NE(error_of(dir / "empty.safetensors").find("0 bytes, too short"), std::string::npos);
}

TEST(SafeTensorsErrors, HeaderLengthPastEndOfFile) {
  TempDir dir;
  SafetensorsBuilder b;
  b.add("x", {2});
  auto bytes = b.build();
  bytes[0] = char(0xff);  // header length now 255 + ..., longer than the file
  bytes[1] = char(0x01);
  test::write_bytes(dir / "m.safetensors", bytes);
  auto msg = error_of(dir / "m.safetensors");
  EXPECT_NE(msg.find("header length 511 reaches past the end of the file"), std::string::npos) << msg;
}

TEST(SafeTensorsErrors, HugeHeaderLength) {
  TempDir dir;
  std::string bytes(16, '\0');
  bytes[7] = char(0x01);  // 2^56
  test::write_bytes(dir / "m.safetensors", bytes);
  auto msg = error_of(dir / "m.safetensors");
  EXPECT_NE(msg.find("exceeds the 100000000-byte limit"), std::string::npos) << msg;
}

TEST(SafeTensorsErrors, TruncatedData) {
  TempDir dir;
  SafetensorsBuilder b;
  b.add("x", {4}).add("y", {4});
  auto bytes = b.build();
  bytes.resize(bytes.size() - 3);
  test::write_bytes(dir / "m.safetensors", bytes);
  auto msg = error_of(dir / "m.safetensors");
  EXPECT_NE(msg.find("tensor 'y': data_offsets [16,32] reach past the end of the data (29 bytes"), std::string::npos)
      << msg;
}

TEST(SafeTensorsErrors, BadJson) {
  TempDir dir;
  SafetensorsBuilder b;
  b.add("x", {1});
  std::string text = R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})";  // missing '}'
  test::write_bytes(dir / "m.safetensors", b.build(&text));
  auto msg = error_of(dir / "m.safetensors");
  EXPECT_NE(msg.find("header: not valid JSON"), std::string::npos) << msg;
  text = "[1, 2]";
  test::write_bytes(dir / "m.safetensors", b.build(&text));
  EXPECT_NE(error_of(dir / "m.safetensors").find("header is not a JSON object"), std::string::npos);
}

TEST(SafeTensorsErrors, UnknownDType) {
  TempDir dir;
  SafetensorsBuilder b;
  b.add("x", {2});
  b.header["x"]["dtype"] = "F64";
  b.write(dir / "m.safetensors");
  auto msg = error_of(dir / "m.safetensors");
  EXPECT_NE(msg.find("tensor 'x': unknown dtype \"F64\""), std::string::npos) << msg;
}

TEST(SafeTensorsErrors, ShapeDoesNotMatchSpan) {
  TempDir dir;
  SafetensorsBuilder b;
  b.add("x", {2, 3});
  b.header["x"]["shape"] = {2, 2};
  b.write(dir / "m.safetensors");
  auto msg = error_of(dir / "m.safetensors");
  EXPECT_NE(msg.find("tensor 'x': shape [2,2] × F32 is 16 bytes but data_offsets [0,24] span 24"), std::string::npos)
      << msg;
}

TEST(SafeTensorsErrors, OverlappingSpans) {
  TempDir dir;
  SafetensorsBuilder b;
  b.add("a", {4}).add("b", {4});
  b.header["b"]["data_offsets"] = {8, 24};  // starts inside a
  b.write(dir / "m.safetensors");
  auto msg = error_of(dir / "m.safetensors");
  EXPECT_NE(msg.find("tensors 'a' and 'b' overlap"), std::string::npos) << msg;
}

TEST(SafeTensorsErrors, MalformedEntries) {
  TempDir dir;
  for (auto [field, value, expect] : {
           std::tuple{"data_offsets", nlohmann::json{8, 4}, "is not [begin, end]"},
           std::tuple{"data_offsets", nlohmann::json{-4, 4}, "is not [begin, end]"},
           std::tuple{"shape", nlohmann::json{-1}, "has a bad dimension"},
           std::tuple{"shape", nlohmann::json("2"), "is not a list"},
           std::tuple{"dtype", nlohmann::json(3), "is not a string"},
       }) {
    SafetensorsBuilder b;
    b.add("x", {2});
    b.header["x"][field] = value;
    b.write(dir / "m.safetensors");
    auto msg = error_of(dir / "m.safetensors");
    EXPECT_NE(msg.find(expect), std::string::npos) << field << ": " << msg;
  }
  SafetensorsBuilder b;
  b.add("x", {2});
  b.header["x"].erase("dtype");
  b.write(dir / "m.safetensors");
  EXPECT_NE(error_of(dir / "m.safetensors").find("lacks dtype, shape or data_offsets"), std::string::npos);
  b.header["x"] = 5;
  b.write(dir / "m.safetensors");
  EXPECT_NE(error_of(dir / "m.safetensors").find("is not an object"), std::string::npos);
}

TEST(SafeTensorsErrors, ShapeOverflow) {
  TempDir dir;
  SafetensorsBuilder b;
  b.add("x", {2});
  b.header["x"]["shape"] = {uint64_t(1) << 40, uint64_t(1) << 40};
  b.write(dir / "m.safetensors");
  EXPECT_NE(error_of(dir / "m.safetensors").find("overflows"), std::string::npos);
}

TEST(SafeTensorsErrors, AtNamesTensorAndSource) {
  TempDir dir;
  SafetensorsBuilder().add("x", {1}).write(dir / "m.safetensors");
  auto st = SafeTensors::open(dir / "m.safetensors");
  try {
    st.at("model.nope");
    FAIL();
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("m.safetensors: tensor 'model.nope' not found"), std::string::npos)
        << e.what();
  }
}

TEST(SafeTensorsErrors, MissingFile) {
  TempDir dir;
  EXPECT_NE(error_of(dir / "absent.safetensors").find("absent.safetensors: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace smolvk
