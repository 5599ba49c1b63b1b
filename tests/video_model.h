#pragma once
// A SmolVLM2-shaped checkpoint for the video tests: the smolvlm_f32_s3 fixture's config.json,
// weights and tokenizer with the processor files of tests/data/video/processor (the published
// SmolVLM2 layout, with video_sampling), copied once per process into a temporary folder.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/test_util.h"

namespace smolvk::test {

inline std::filesystem::path video_model_dir() {
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("smolvk_video_model_" + std::to_string(::getpid()));
    fs::create_directories(d);
    const fs::path s3 = data_dir() / "smolvlm_f32_s3";
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                          "generation_config.json"})
      fs::copy_file(s3 / f, d / f, fs::copy_options::overwrite_existing);
    for (const auto& e : fs::directory_iterator(data_dir() / "video" / "processor"))
      fs::copy_file(e.path(), d / e.path().filename(), fs::copy_options::overwrite_existing);
    return d;
  }();
  return dir;
}

// Removes the folder at exit (a static's destructor).
struct VideoModelCleanup {
  ~VideoModelCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                    ("smolvk_video_model_" + std::to_string(::getpid())),
                                ec);
  }
};
inline VideoModelCleanup video_model_cleanup;

}  // namespace smolvk::test
