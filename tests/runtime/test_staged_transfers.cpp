// Uploads and downloads through the staging buffer, as a discrete GPU does them
// (ContextOptions::staged_transfers forces that path on lavapipe, whose memory is host-visible):
// an upload larger than the staging buffer goes in chunks, at an offset and with a partial last
// chunk; the bytes read back must be exactly those written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
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

// Pieces through the two halves of the staging buffer (32 MiB each): small and large ones,
// one crossing halves, one spanning several, out of order and with a gap left untouched.
TEST(StagedTransfers, PiecesThroughBothHalvesLandWhereTheySay) {
  Context ctx = staged_context();
  const uint64_t big = (45ull << 20) + 77, total = 3 * big;
  Buffer b = ctx.create_buffer(total);
  const auto before = pattern(total, 1);
  ctx.upload(b, before.data(), total);
  const auto p1 = pattern(big, 2), p2 = pattern(1000, 3), p3 = pattern(big + 5000, 4);
  // p3 first at the end region, then p1 at the start, then p2 inside the middle; bytes
  // [big, 2·big) other than p2's stay as they were.
  const uint64_t at3 = 2 * big - 5000, at2 = big + 123;
  const std::vector<Context::UploadPiece> pieces{
      {p3.data(), p3.size(), at3}, {p1.data(), p1.size(), 0}, {p2.data(), p2.size(), at2}};
  ctx.upload(b, pieces);
  std::vector<uint8_t> want = before;
  std::copy(p3.begin(), p3.end(), want.begin() + at3);
  std::copy(p1.begin(), p1.end(), want.begin());
  std::copy(p2.begin(), p2.end(), want.begin() + at2);
  std::vector<uint8_t> back(total);
  ctx.download(b, back.data(), total);
  EXPECT_TRUE(back == want) << "first differing byte at "
                            << std::distance(back.begin(), std::mismatch(back.begin(), back.end(), want.begin()).first);
  const std::vector<Context::UploadPiece> outside{{p2.data(), p2.size(), total - 10}};
  EXPECT_THROW(ctx.upload(b, outside), GpuError);  // checked before anything moves
  ctx.download(b, back.data(), total);
  EXPECT_TRUE(back == want);
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

// upload_async returns with the copies queued: the sources may go at once (here they are
// overwritten), later uploads and copies wait for them before reusing the staging buffer, and
// a download sees every one of them in order.
TEST(StagedTransfers, AsyncUploadsLandInOrderBeforeLaterTransfers) {
  Context ctx = staged_context();
  const uint64_t big = (40ull << 20) + 999, small = 4096 + 3;
  Buffer a = ctx.create_buffer(big), b = ctx.create_buffer(small), c = ctx.create_buffer(small);
  auto src = pattern(big, 11);
  const auto want_a = src;
  const Context::BufferUpload pa{a, src.data(), big, 0};
  ctx.upload_async(std::span(&pa, 1));  // two halves' worth: one waited half, one left queued
  std::fill(src.begin(), src.end(), uint8_t(0));  // the caller's bytes are no longer needed
  auto s1 = pattern(small, 12), s2 = pattern(small, 13);
  const Context::BufferUpload p1{b, s1.data(), small, 0}, p2{b, s2.data(), small, 0};
  ctx.upload_async(std::span(&p1, 1));
  ctx.upload_async(std::span(&p2, 1));  // the later upload to the same bytes wins
  const Context::CopyRange all{0, 0, small};
  ctx.copy(b, c, std::span(&all, 1));  // a transfer behind the queued uploads
  std::vector<uint8_t> back_a(big), back_c(small);
  ctx.download(a, back_a.data(), big);
  ctx.download(c, back_c.data(), small);
  EXPECT_TRUE(back_a == want_a) << "first differing byte at "
                                << std::distance(back_a.begin(),
                                                 std::mismatch(back_a.begin(), back_a.end(), want_a.begin()).first);
  EXPECT_TRUE(back_c == s2);
  EXPECT_TRUE(ctx.take_validation_messages().empty());
}

// Several buffers in one queued copy: small ones and one crossing into the second half of the
// staging buffer, each landing in its own buffer at its offset.
TEST(StagedTransfers, OneAsyncUploadIntoSeveralBuffers) {
  Context ctx = staged_context();
  const uint64_t big = (33ull << 20) + 17;
  Buffer a = ctx.create_buffer(1000), b = ctx.create_buffer(big + 64), c = ctx.create_buffer(4096);
  const auto pa = pattern(999, 21), pb = pattern(big, 22), pc = pattern(100, 23);
  const std::vector<Context::BufferUpload> ups{
      {a, pa.data(), pa.size(), 1}, {b, pb.data(), pb.size(), 64}, {c, pc.data(), pc.size(), 3996}};
  ctx.upload_async(ups);
  std::vector<uint8_t> ba(999), bb(big), bc(100);
  ctx.download(a, ba.data(), 999, 1);
  ctx.download(b, bb.data(), big, 64);
  ctx.download(c, bc.data(), 100, 3996);
  EXPECT_TRUE(ba == pa);
  EXPECT_TRUE(bb == pb);
  EXPECT_TRUE(bc == pc);
  EXPECT_TRUE(ctx.take_validation_messages().empty());
}
