#include "loader/npy.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "loader/error.h"
#include "loader/mapped_file.h"

namespace smolvk {
namespace {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct DTypeInfo {
  const char* descr;  // as written
  NpyDType type;
  size_t size;
};
constexpr DTypeInfo kWriteTypes[] = {
    {"<f4", NpyDType::F32, 4}, {"<i4", NpyDType::I32, 4},  {"<i8", NpyDType::I64, 8},
    {"|u1", NpyDType::U8, 1},  {"|b1", NpyDType::Bool, 1},
};

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  struct Header {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<int64_t>> shape;
  };

  Header parse() {
    Header h;
    expect('{');
    while (true) {
      ws();
      if (peek() == '}') break;
      std::string key = string();
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        h.descr = string();
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
      } else if (key == "shape") {
        h.shape = tuple();
      } else {
        fail("unexpected key '" + key + "'");
      }
      ws();
      if (peek() == ',') ++i_;
    }
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw LoadError(source_ + ": bad .npy header (" + what + "): " + std::string(s_));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    ws();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string() {
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(i_, 4) == "True") return i_ += 4, true;
    if (s_.substr(i_, 5) == "False") return i_ += 5, false;
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    char close = peek() == '(' ? ')' : peek() == '[' ? ']' : '\0';
    if (!close) fail("expected a shape tuple");
    ++i_;
    while (true) {
      ws();
      if (peek() == close) break;
      if (peek() < '0' || peek() > '9') fail("expected a dimension");
      int64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (d > (INT64_MAX - 9) / 10) fail("dimension too large");
        d = d * 10 + (s_[i_++] - '0');
      }
      if (peek() == 'L') ++i_;  // Python 2 long
      dims.push_back(d);
      ws();
      if (peek() == ',')
        ++i_;
      else if (peek() != close)
        fail("expected ',' in shape");
    }
    ++i_;
    return dims;
  }

  std::string_view s_;
  const std::string& source_;
  size_t i_ = 0;
};

const DTypeInfo& dtype_from_descr(const std::string& d, const std::string& source) {
  if (d.size() == 3) {
    char order = d[0];
    std::string kind = d.substr(1);
    for (const auto& t : kWriteTypes) {
      if (kind != t.descr + 1) continue;
      bool ok =
          t.size == 1 ? (order == '|' || order == '<' || order == '>' || order == '=') : (order == '<' || order == '=');
      if (ok) return t;
      throw LoadError(source + ": .npy dtype '" + d + "' is big-endian; expected little-endian ('<')");
    }
  }
  throw LoadError(source + ": unsupported .npy dtype '" + d + "', expected <f4, <i4, <i8, |u1 or |b1");
}

void write_raw(const std::filesystem::path& path, const char* descr, const void* data, size_t bytes, size_t numel,
               std::span<const int64_t> shape) {
  size_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("write_npy " + path.string() + ": negative dimension");
    n *= size_t(d);
  }
  if (n != numel)
    throw std::invalid_argument("write_npy " + path.string() + ": shape has " + std::to_string(n) + " elements, data " +
                                std::to_string(numel));
  std::string dims;  // Python's tuple repr: (), (3,), (2, 3)
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends in '\n'.
  size_t total = kMagicLen + 2 + 2 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 65535) throw std::invalid_argument("write_npy " + path.string() + ": shape too long");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("write_npy: cannot create " + path.string());
  out.write(kMagic, kMagicLen);
  const char ver[2] = {1, 0};
  out.write(ver, 2);
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char*>(len), 2);
  out.write(header.data(), std::streamsize(header.size()));
  out.write(static_cast<const char*>(data), std::streamsize(bytes));
  if (!out.flush()) throw std::runtime_error("write_npy: cannot write " + path.string());
}

}  // namespace

size_t NpyArray::numel() const {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  return n;
}

NpyArray parse_npy(std::span<const std::byte> bytes, const std::string& source) {
  if (bytes.size() < kMagicLen + 4 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    throw LoadError(source + ": not a .npy file (missing \\x93NUMPY magic)");
  auto u8 = [&](size_t i) { return uint32_t(bytes[i]); };
  uint32_t major = u8(6);
  size_t header_len = 0, header_at = 0;
  if (major == 1) {
    header_len = u8(8) | u8(9) << 8;
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw LoadError(source + ": .npy file truncated in its header");
    header_len = u8(8) | u8(9) << 8 | u8(10) << 16 | u8(11) << 24;
    header_at = 12;
  } else {
    throw LoadError(source + ": .npy format version " + std::to_string(major) + " unsupported (expected 1, 2 or 3)");
  }
  if (header_len > bytes.size() - header_at)
    throw LoadError(source + ": .npy header length " + std::to_string(header_len) + " runs past the end of the file");
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + header_at), header_len);
  auto h = HeaderParser(text, source).parse();
  if (!h.descr || !h.fortran_order || !h.shape)
    throw LoadError(source + ": .npy header lacks descr, fortran_order or shape: " + std::string(text));
  if (*h.fortran_order) throw LoadError(source + ": .npy array is in Fortran order; only C order is supported");
  const auto& t = dtype_from_descr(*h.descr, source);

  NpyArray a;
  a.dtype = t.type;
  a.shape = *h.shape;
  uint64_t n = 1;
  for (auto d : a.shape)
    if (__builtin_mul_overflow(n, uint64_t(d), &n)) throw LoadError(source + ": .npy shape overflows");
  const size_t data_at = header_at + header_len;
  const size_t avail = bytes.size() - data_at;
  uint64_t need = 0;
  if (__builtin_mul_overflow(n, uint64_t(t.size), &need) || need != avail)
    throw LoadError(source + ": .npy data is " + std::to_string(avail) + " bytes, shape " + std::string(text) +
                    " needs " + std::to_string(n) + " × " + std::to_string(t.size));
  const std::byte* p = bytes.data() + data_at;
  if (t.type == NpyDType::F32) {
    a.floats.resize(n);
    if (need) std::memcpy(a.floats.data(), p, need);  // an empty array's data() may be null
  } else {
    a.ints.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const std::byte* e = p + i * t.size;
      if (t.type == NpyDType::I32) {
        int32_t v;
        std::memcpy(&v, e, 4);
        a.ints[i] = v;
      } else if (t.type == NpyDType::I64) {
        std::memcpy(&a.ints[i], e, 8);
      } else {
        a.ints[i] = int64_t(uint8_t(*e));
      }
    }
  }
  return a;
}

NpyArray read_npy(const std::filesystem::path& path) {
  MappedFile m(path);
  return parse_npy(m.bytes(), path.string());
}

void write_npy(const std::filesystem::path& path, std::span<const float> data, std::span<const int64_t> shape) {
  write_raw(path, "<f4", data.data(), data.size_bytes(), data.size(), shape);
}
void write_npy(const std::filesystem::path& path, std::span<const int32_t> data, std::span<const int64_t> shape) {
  write_raw(path, "<i4", data.data(), data.size_bytes(), data.size(), shape);
}
void write_npy(const std::filesystem::path& path, std::span<const int64_t> data, std::span<const int64_t> shape) {
  write_raw(path, "<i8", data.data(), data.size_bytes(), data.size(), shape);
}
void write_npy(const std::filesystem::path& path, std::span<const uint8_t> data, std::span<const int64_t> shape) {
  write_raw(path, "|u1", data.data(), data.size_bytes(), data.size(), shape);
}

}  // namespace smolvk
