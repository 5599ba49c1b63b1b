// Uploads and downloads through the staging buffer, as a discrete GPU does them
// (ContextOptions::staged_transfers forces that path on lavapipe, whose memory is host-visible):
// an upload larger than the staging buffer goes in chunks, at an offset and with a partial last
// chunk; the bytes read back must be exactly those written.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "runtime/context.h"

using namespace smolvk;

namespace {

Context staged_context() {
  ContextOptions o = ContextOptions::from_env();
  o.validation = true;
  o.staged_transfers = true;
  return Context(o);
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = uint8_t(x >> 24);
  }
  return v;
}

}  // namespace

TEST(StagedTransfers, LargeUploadInChunksReadsBackExactly) {
  Context ctx = staged_context();
  // 64 MiB staging: two chunks (the last partial) at an offset.
  const uint64_t offset = 256, n = (70ull << 20) + 12345;
  Buffer b = ctx.create_buffer(offset + n + 64);
  const auto data = pattern(n, 7);
  ctx.upload(b, data.data(), n, offset);
  std::vector<uint8_t> back(n);
  ctx.download(b, back.data(), n, offset);
  EXPECT_TRUE(back == data) << "first differing byte at "
                            << std::distance(back.begin(), std::mismatch(back.begin(), back.end(), data.begin()).first);
  // A second upload over the same range reuses the staging buffer.
  const auto again = pattern(n, 8);
  ctx.upload(b, again.data(), n, offset);
  ctx.download(b, back.data(), n, offset);
  EXPECT_TRUE(back == again);
  EXPECT_TRUE(ctx.take_validation_messages().empty());
}

TEST(StagedTransfers, SmallUploadsAndFill) {
  Context ctx = staged_context();
  Buffer b = ctx.create_buffer(4096);
  std::vector<uint32_t> v(1024);
  std::iota(v.begin(), v.end(), 1u);
  ctx.upload(b, v.data(), 4096);
  ctx.fill_zero(b);
  std::vector<uint32_t> back(1024, 7u);
  ctx.download(b, back.data(), 4096);
  EXPECT_EQ(back, std::vector<uint32_t>(1024, 0u));
  ctx.upload(b, v.data(), 100, 8);
  ctx.download(b, back.data(), 4096);
  EXPECT_EQ(back[2], 1u);
  EXPECT_EQ(back[26], 25u);
  EXPECT_EQ(back[27], 0u);
  EXPECT_TRUE(ctx.take_validation_messages().empty());
}
