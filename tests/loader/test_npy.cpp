#include <gtest/gtest.h>

#include <cstring>

#include "loader/error.h"
#include "loader/npy.h"
#include "tests/loader/test_safetensors_builder.h"

namespace smolvk {
namespace {

using test::TempDir;

// An .npy image the way numpy.save lays it out: magic, version, header padded with spaces
// to a 64-byte boundary and ended by '\n', then the raw data.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string head = dict;
  size_t fixed = major == 1 ? 10 : 12;
  head.append((64 - (fixed + head.size() + 1) % 64) % 64, ' ');
  head += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += '\0';
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out += char((head.size() >> (8 * i)) & 0xff);
  return out + head + data;
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

template <class T>
std::string raw(std::initializer_list<T> v) {
  std::string s(v.size() * sizeof(T), '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

std::string error_of(const std::string& bytes) {
  try {
    parse_npy(as_bytes(bytes), "x.npy");
  } catch (const LoadError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Npy, ReadsNumpyLayoutF32) {
  auto a = parse_npy(as_bytes(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                        raw<float>({0.5f, 1, 2, 3, 4, -5.25f}))),
                     "x.npy");
  EXPECT_EQ(a.dtype, NpyDType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.floats, (std::vector<float>{0.5f, 1, 2, 3, 4, -5.25f}));
  EXPECT_TRUE(a.ints.empty());
}

TEST(Npy, ReadsIntegerTypesAsInts) {
  auto i8 = parse_npy(as_bytes(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                         raw<int64_t>({-1, 49190, int64_t(1) << 40}))),
                      "x.npy");
  EXPECT_EQ(i8.ints, (std::vector<int64_t>{-1, 49190, int64_t(1) << 40}));
  auto i4 = parse_npy(
      as_bytes(npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }", raw<int32_t>({-7, 9}))),
      "x.npy");
  EXPECT_EQ(i4.ints, (std::vector<int64_t>{-7, 9}));
  auto u1 = parse_npy(as_bytes(npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
                                         std::string("\x00\x01\xff\x02", 4))),
                      "x.npy");
  EXPECT_EQ(u1.dtype, NpyDType::U8);
  EXPECT_EQ(u1.ints, (std::vector<int64_t>{0, 1, 255, 2}));
  auto b1 = parse_npy(
      as_bytes(npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", std::string("\x01\x00", 2))),
      "x.npy");
  EXPECT_EQ(b1.dtype, NpyDType::Bool);
  EXPECT_EQ(b1.ints, (std::vector<int64_t>{1, 0}));
}

TEST(Npy, Version2HeaderAndScalar) {
  auto a = parse_npy(
      as_bytes(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", raw<float>({3.5f}), 2)), "x.npy");
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(a.numel(), 1u);
  EXPECT_EQ(a.floats, (std::vector<float>{3.5f}));
}

TEST(Npy, WriteReadRoundTrip) {
  TempDir dir;
  std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 1e-8f, 7.0f};
  std::vector<int64_t> shape = {1, 2, 3};
  write_npy(dir / "f.npy", std::span<const float>(f), shape);
  auto a = read_npy(dir / "f.npy");
  EXPECT_EQ(a.shape, shape);
  EXPECT_EQ(a.floats, f);
  EXPECT_EQ(std::filesystem::file_size(dir / "f.npy"), 128u + f.size() * 4);  // header padded to 64·k

  std::vector<int32_t> i32 = {-3, 4};
  std::vector<int64_t> i64 = {-(int64_t(1) << 50), 5, 6};
  std::vector<uint8_t> u8 = {0, 200};
  std::vector<int64_t> s2 = {2}, s3 = {3};
  write_npy(dir / "a.npy", std::span<const int32_t>(i32), s2);
  write_npy(dir / "b.npy", std::span<const int64_t>(i64), s3);
  write_npy(dir / "c.npy", std::span<const uint8_t>(u8), s2);
  EXPECT_EQ(read_npy(dir / "a.npy").ints, (std::vector<int64_t>{-3, 4}));
  EXPECT_EQ(read_npy(dir / "b.npy").ints, i64);
  EXPECT_EQ(read_npy(dir / "c.npy").dtype, NpyDType::U8);
  EXPECT_EQ(read_npy(dir / "c.npy").ints, (std::vector<int64_t>{0, 200}));
  EXPECT_THROW(write_npy(dir / "d.npy", std::span<const float>(f), s3), std::invalid_argument);
}

TEST(NpyErrors, FortranOrder) {
  auto msg = error_of(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", raw<float>({1})));
  EXPECT_NE(msg.find("x.npy: .npy array is in Fortran order"), std::string::npos) << msg;
}

TEST(NpyErrors, UnknownDType) {
  auto msg = error_of(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", raw<double>({1})));
  EXPECT_NE(msg.find("unsupported .npy dtype '<f8'"), std::string::npos) << msg;
  msg = error_of(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", raw<float>({1})));
  EXPECT_NE(msg.find("'>f4' is big-endian"), std::string::npos) << msg;
}

TEST(NpyErrors, DataSizeMismatch) {
  auto msg = error_of(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", raw<float>({1, 2})));
  EXPECT_NE(msg.find(".npy data is 8 bytes"), std::string::npos) << msg;
}

TEST(NpyErrors, BadMagicHeaderAndVersion) {
  EXPECT_NE(error_of("PK\x03\x04 not npy").find("missing \\x93NUMPY magic"), std::string::npos);
  EXPECT_NE(error_of(npy_bytes("{'descr': '<f4', 'shape': (1,), }", raw<float>({1}))).find("lacks descr"),
            std::string::npos);
  EXPECT_NE(error_of(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,", "")).find("bad .npy header"),
            std::string::npos);
  auto v9 = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", raw<float>({1}));
  v9[6] = 9;
  EXPECT_NE(error_of(v9).find("format version 9 unsupported"), std::string::npos);
  auto truncated = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "");
  truncated.resize(40);
  EXPECT_NE(error_of(truncated).find("runs past the end of the file"), std::string::npos);
}

TEST(NpyErrors, MissingFile) {
  TempDir dir;
  EXPECT_THROW(read_npy(dir / "none.npy"), LoadError);
}

}  // namespace
}  // namespace smolvk
