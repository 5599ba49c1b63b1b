#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "runtime/graph.h"
#include "tests/test_util.h"

using namespace smolvk;

TEST(Buffers, UploadDownloadRoundTrip) {
  Context& ctx = test::context();
  for (uint64_t n : {1ull, 3ull, 1000ull, 123457ull}) {
    std::vector<uint32_t> src(n);
    std::iota(src.begin(), src.end(), 7u);
    Buffer b = ctx.create_buffer(n * 4);
    ctx.upload(b, src.data(), n * 4);
    std::vector<uint32_t> dst(n, 0);
    ctx.download(b, dst.data(), n * 4);
    EXPECT_EQ(src, dst) << n;
  }
}

// Context::copy: device-to-device ranges (the image cache's copies), each landing where asked
// and nothing else touched; a range past either buffer is an error before anything runs.
TEST(Buffers, DeviceCopiesOfRanges) {
  Context& ctx = test::context();
  std::vector<uint32_t> src(1000);
  std::iota(src.begin(), src.end(), 1u);
  Buffer a = ctx.create_buffer(4000), b = ctx.create_buffer(2000);
  ctx.upload(a, src.data(), 4000);
  ctx.fill_zero(b);
  const Context::CopyRange ranges[] = {{400, 0, 40}, {0, 1000, 8}, {3996, 1996, 4}};
  ctx.copy(a, b, ranges);
  std::vector<uint32_t> got(500);
  ctx.download(b, got.data(), 2000);
  for (size_t i = 0; i < got.size(); ++i) {
    uint32_t want = 0;
    if (i < 10) want = src[100 + i];
    if (i == 250 || i == 251) want = src[i - 250];
    if (i == 499) want = src[999];
    EXPECT_EQ(got[i], want) << i;
  }
  const Context::CopyRange past[] = {{0, 1996, 8}};
  EXPECT_THROW(ctx.copy(a, b, past), GpuError);
  const Context::CopyRange past_src[] = {{3999, 0, 4}};
  EXPECT_THROW(ctx.copy(a, b, past_src), GpuError);
}

TEST(Buffers, SubAllocationsDoNotOverlapAndMemoryIsReturned) {
  Context& ctx = test::context();
  const uint64_t before = ctx.device_bytes_in_use();
  {
    std::vector<Buffer> bufs;
    for (int i = 0; i < 16; ++i) {
      bufs.push_back(ctx.create_buffer(1000 + i));
      std::vector<uint8_t> v(1000 + i, uint8_t(i));
      ctx.upload(bufs.back(), v.data(), v.size());
    }
    for (int i = 0; i < 16; ++i) {
      std::vector<uint8_t> v(1000 + i);
      ctx.download(bufs[i], v.data(), v.size());
      EXPECT_EQ(v.front(), uint8_t(i));
      EXPECT_EQ(v.back(), uint8_t(i));
    }
    EXPECT_GT(ctx.device_bytes_in_use(), before);
  }
  EXPECT_EQ(ctx.device_bytes_in_use(), before);
}

TEST(Buffers, OutOfRangeTransferIsAnError) {
  Context& ctx = test::context();
  Buffer b = ctx.create_buffer(64);
  std::vector<uint8_t> v(128);
  EXPECT_THROW(ctx.upload(b, v.data(), 128), GpuError);
  EXPECT_THROW(ctx.download(b, v.data(), 32, 48), GpuError);
}

// A tensor larger than maxStorageBufferRange (128 MiB on lavapipe) is usable: it is bound by
// ranges, one dispatch per range, and a single oversized binding is refused with a clear error.
TEST(Buffers, TensorLargerThanMaxStorageBufferRange) {
  Context& ctx = test::context();
  const uint64_t bytes = 300ull << 20;
  const uint64_t n = bytes / 4;
  std::vector<float> host(n);
  for (uint64_t i = 0; i < n; ++i) host[i] = float(i % 1000003);
  Buffer in = ctx.create_buffer(bytes), out = ctx.create_buffer(bytes);
  ctx.upload(in, host.data(), bytes);

  const uint64_t range = ctx.caps().max_storage_buffer_range;
  if (range >= bytes)
    GTEST_SKIP() << "maxStorageBufferRange is " << range << " bytes: a 300 MiB tensor fits one binding here";
  {
    Graph g(ctx);
    TensorRef whole = g.external(in);
    TensorRef o = g.external(out);
    Dispatch d{.name = "too_big", .op = "test", .shader = "test_fill", .spec = {64}};
    d.bindings = {{whole, Access::Read}, {o, Access::Write}};
    struct {
      uint32_t n;
      float a, b;
      uint32_t use_params;
    } pc{uint32_t(n), 1, 0, 0};
    d.set_push(pc);
    d.groups = {1, 1, 1};
    g.add(d);
    EXPECT_THROW(g.compile(), GpuError);
  }
  Graph g(ctx);
  TensorRef ti = g.external(in), to = g.external(out);
  const uint64_t chunk = (std::min<uint64_t>(range, 64ull << 20) / 4) * 4;
  for (uint64_t off = 0; off < bytes; off += chunk) {
    uint64_t len = std::min(chunk, bytes - off);
    Dispatch d{.name = "fill_chunk", .op = "test", .shader = "test_fill", .spec = {64}};
    d.bindings = {{ti.slice(off, len), Access::Read}, {to.slice(off, len), Access::Write}};
    struct {
      uint32_t n;
      float a, b;
      uint32_t use_params;
    } pc{uint32_t(len / 4), 2.0f, 1.0f, 0};
    d.set_push(pc);
    uint32_t groups = uint32_t((len / 4 + 63) / 64);
    uint32_t gx = std::min<uint32_t>(groups, 65535);
    d.groups = {gx, (groups + gx - 1) / gx, 1};
    g.add(d);
  }
  Program p = g.compile();
  p.run();
  std::vector<float> res(n);
  ctx.download(out, res.data(), bytes);
  for (uint64_t i : std::vector<uint64_t>{0, 1, n / 2, n / 2 + 1, (128ull << 20) / 4, n - 1})
    EXPECT_EQ(res[i], host[i] * 2.0f + 1.0f) << "element " << i;
  uint64_t bad = 0;
  for (uint64_t i = 0; i < n; ++i) bad += res[i] != host[i] * 2.0f + 1.0f;
  EXPECT_EQ(bad, 0u);
}
