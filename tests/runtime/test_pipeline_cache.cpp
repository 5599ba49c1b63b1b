#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "runtime/context.h"
#include "tests/test_util.h"

using namespace smolvk;

// The second context on the same device loads the cache the first one wrote, and the driver
// (where it reports it) finds the pipeline there.
TEST(PipelineCache, SecondCreationHitsTheDiskCache) {
  auto dir = std::filesystem::temp_directory_path() / ("smolvk-cache-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ContextOptions o = ContextOptions::from_env();
  o.validation = true;
  o.cache_dir = dir.string();
  const uint32_t spec[] = {48};
  {
    Context a(o);
    EXPECT_EQ(a.pipeline_cache_stats().loaded_bytes, 0u);
    a.prepare_pipeline("test_fill", spec);
    EXPECT_EQ(a.pipeline_cache_stats().pipelines_created, 1u);
    EXPECT_TRUE(a.take_validation_messages().empty());
  }
  auto file = std::filesystem::directory_iterator(dir)->path();
  const auto file_bytes = std::filesystem::file_size(file);
  EXPECT_GE(file_bytes, 32u);  // at least the VkPipelineCacheHeaderVersionOne
  {
    Context b(o);
    auto s = b.pipeline_cache_stats();
    EXPECT_EQ(s.file, file);
    EXPECT_EQ(s.loaded_bytes, file_bytes);
    b.prepare_pipeline("test_fill", spec);
    b.prepare_pipeline("test_fill", spec);  // the in-memory map: no second creation
    s = b.pipeline_cache_stats();
    EXPECT_EQ(s.pipelines_created, 1u);
    // lavapipe (Mesa 22) keeps no pipelines in its cache blob (header only); drivers that do
    // (NVIDIA, RADV, ...) must report the hit.
    if (s.hit_reporting && file_bytes > 32) {
      EXPECT_EQ(s.cache_hits, 1u);
    }
    EXPECT_TRUE(b.take_validation_messages().empty());
  }
  // A corrupt file is ignored, not passed to the driver.
  std::filesystem::resize_file(file, 20);
  {
    Context c(o);
    EXPECT_EQ(c.pipeline_cache_stats().loaded_bytes, 0u);
  }
  std::filesystem::remove_all(dir);
}

// SMOLVK_CACHE_DIR=none (as documented) and ContextOptions::cache_dir = "none" turn the disk
// cache off: no file is named, read or written (a folder called "none" used to appear).
TEST(PipelineCache, NoneDisablesTheDiskCache) {
  const auto cwd = std::filesystem::current_path();
  const auto tmp = std::filesystem::temp_directory_path() / ("smolvk-cache-none-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  std::filesystem::current_path(tmp);
  const uint32_t spec[] = {48};
  const char* before = std::getenv("SMOLVK_CACHE_DIR");
  const std::string saved = before ? before : "";
  for (bool from_env : {true, false}) {
    SCOPED_TRACE(from_env ? "SMOLVK_CACHE_DIR=none" : "cache_dir = none");
    ContextOptions o = ContextOptions::from_env();
    o.validation = true;
    if (from_env) {
      setenv("SMOLVK_CACHE_DIR", "none", 1);
      o.cache_dir.clear();
    } else {
      o.cache_dir = "none";
    }
    {
      Context c(o);
      c.prepare_pipeline("test_fill", spec);
      EXPECT_TRUE(c.pipeline_cache_stats().file.empty());
      EXPECT_EQ(c.pipeline_cache_stats().loaded_bytes, 0u);
      c.save_pipeline_cache();
    }
    if (before)
      setenv("SMOLVK_CACHE_DIR", saved.c_str(), 1);
    else
      unsetenv("SMOLVK_CACHE_DIR");
    EXPECT_FALSE(std::filesystem::exists(tmp / "none"));
  }
  std::filesystem::current_path(cwd);
  std::filesystem::remove_all(tmp);
}
