#include "loader/processor_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loader/config_json.h"
#include "loader/error.h"

namespace smolvk {
namespace {

using nlohmann::json;

std::string where(const std::string& source, const std::string& key) { return source + ": \"" + key + "\""; }

void read_bool(const json& j, const char* key, bool& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_boolean()) throw LoadError(where(source, key) + " = " + it->dump() + ", expected true or false");
  out = it->get<bool>();
}

int positive_int(const json& v, const std::string& what) {
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (1 << 20))
    throw LoadError(what + " = " + v.dump() + ", expected a positive integer");
  return int(v.get<int64_t>());
}

// "size": {"longest_edge": N}
void read_longest_edge(const json& j, const char* key, int& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_object() || !it->contains("longest_edge"))
    throw LoadError(where(source, key) + " = " + it->dump() + ", expected an object with \"longest_edge\"");
  out = positive_int(it->at("longest_edge"), where(source, std::string(key) + ".longest_edge"));
}

// A number or a list of 3 numbers (one per channel).
void read_triplet(const json& j, const char* key, std::array<double, 3>& out, const std::string& source, bool nonzero) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  std::array<double, 3> v{};
  if (it->is_number()) {
    v.fill(it->get<double>());
  } else if (it->is_array() && it->size() == 3 &&
             std::all_of(it->begin(), it->end(), [](const json& x) { return x.is_number(); })) {
    for (int c = 0; c < 3; ++c) v[c] = (*it)[c].get<double>();
  } else {
    throw LoadError(where(source, key) + " = " + it->dump() + ", expected a number or a list of 3 numbers");
  }
  if (nonzero)
    for (double x : v)
      if (x == 0.0) throw LoadError(where(source, key) + " = " + it->dump() + ", expected non-zero values");
  out = v;
}

// max_image_size.longest_edge, at most kMaxTileSide (`what`: "a tile side", "a frame side").
void read_max_side(const json& j, int& out, const std::string& source, const char* what) {
  read_longest_edge(j, "max_image_size", out, source);
  if (out > kMaxTileSide)
    throw LoadError(where(source, "max_image_size.longest_edge") + " = " + std::to_string(out) +
                    ", over the limit of " + std::to_string(kMaxTileSide) + " pixels for " + what);
}

// "resample" (a PIL filter id) and "rescale_factor" (positive), where present.
void read_resample_and_rescale(const json& j, Resample& resample, double& rescale_factor, const std::string& source) {
  if (auto it = j.find("resample"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer())
      throw LoadError(where(source, "resample") + " = " + it->dump() + ", expected a PIL filter id 0..5");
    resample = resample_from_pil(it->get<int>(), where(source, "resample"));
  }
  if (auto it = j.find("rescale_factor"); it != j.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() <= 0)
      throw LoadError(where(source, "rescale_factor") + " = " + it->dump() + ", expected a positive number");
    rescale_factor = it->get<double>();
  }
}

}  // namespace

ProcessorConfig ProcessorConfig::from_json(const json& ip, const std::string& source, const json* processor,
                                           const std::string& processor_source) {
  if (!ip.is_object()) throw LoadError(source + ": expected a JSON object, got " + ip.type_name());
  ProcessorConfig c;
  read_bool(ip, "do_convert_rgb", c.do_convert_rgb, source);
  read_bool(ip, "do_resize", c.do_resize, source);
  read_longest_edge(ip, "size", c.longest_edge, source);
  read_max_side(ip, c.max_image_longest_edge, source, "a tile side");
  read_resample_and_rescale(ip, c.resample, c.rescale_factor, source);
  read_bool(ip, "do_rescale", c.do_rescale, source);
  read_bool(ip, "do_normalize", c.do_normalize, source);
  read_triplet(ip, "image_mean", c.image_mean, source, false);
  read_triplet(ip, "image_std", c.image_std, source, true);
  read_bool(ip, "do_image_splitting", c.do_image_splitting, source);
  read_bool(ip, "do_pad", c.do_pad, source);
  if (processor && processor->is_object())
    if (auto it = processor->find("image_seq_len"); it != processor->end() && !it->is_null())
      c.image_seq_len = positive_int(*it, where(processor_source, "image_seq_len"));
  return c;
}

void ProcessorConfig::check_against_model(int image_size, int patch_size, int scale_factor,
                                          const std::string& model_source) const {
  if (image_size <= 0 || patch_size <= 0 || scale_factor <= 0)
    throw LoadError(model_source + ": image_size " + std::to_string(image_size) + ", patch_size " +
                    std::to_string(patch_size) + ", scale_factor " + std::to_string(scale_factor) +
                    " must be positive");
  const int grid = image_size / patch_size;
  const int expected = grid * grid / (scale_factor * scale_factor);
  if (image_seq_len != expected)
    throw LoadError("processor image_seq_len = " + std::to_string(image_seq_len) + " but " + model_source + " gives (" +
                    std::to_string(image_size) + "/" + std::to_string(patch_size) + ")^2/" +
                    std::to_string(scale_factor) + "^2 = " + std::to_string(expected) + " tokens per tile");
  if (max_image_longest_edge != image_size)
    throw LoadError("processor max_image_size.longest_edge = " + std::to_string(max_image_longest_edge) + " but " +
                    model_source + " vision image_size = " + std::to_string(image_size) +
                    "; tiles must be the vision encoder's input size");
}

ProcessorConfig ProcessorConfig::load(const std::filesystem::path& dir) {
  const auto pre = dir / "preprocessor_config.json", proc = dir / "processor_config.json";
  json processor;
  const bool have_proc = std::filesystem::exists(proc);
  if (have_proc) processor = read_config_json_file(proc);
  ProcessorConfig c;
  if (std::filesystem::exists(pre))
    c = from_json(read_config_json_file(pre), pre.string(), have_proc ? &processor : nullptr, proc.string());
  else if (have_proc && processor.is_object() && processor.contains("image_processor"))
    c = from_json(processor["image_processor"], proc.string() + " image_processor", &processor, proc.string());
  else
    throw LoadError(dir.string() +
                    ": no preprocessor_config.json (nor an \"image_processor\" entry in "
                    "processor_config.json); expected a Hugging Face SmolVLM / Idefics3 model directory");
  try {
    c.video = VideoProcessorConfig::load(dir);
  } catch (const LoadError& e) {
    c.video_error = e.what();
  }
  return c;
}

namespace {

// SmolVLM's video "size": {"longest_edge": N}, {"height": H, "width": W}, or one number (a
// square, as get_size_dict makes it with default_to_square).
void read_video_size(const json& size, const std::string& what, VideoProcessorConfig& c) {
  if (size.is_number_integer()) {
    c.size_height = c.size_width = positive_int(size, what);
    return;
  }
  if (size.is_object() && size.contains("longest_edge") && !size.at("longest_edge").is_null()) {
    c.longest_edge = positive_int(size.at("longest_edge"), what + ".longest_edge");
    c.size_height = c.size_width = 0;
    return;
  }
  if (size.is_object() && size.contains("height") && size.contains("width")) {
    c.size_height = positive_int(size.at("height"), what + ".height");
    c.size_width = positive_int(size.at("width"), what + ".width");
    return;
  }
  throw LoadError(what + " = " + size.dump() +
                  ", expected {\"longest_edge\": N} or {\"height\": H, \"width\": W} (SmolVLMVideoProcessor.resize)");
}

std::optional<double> read_fps(const json* v, const std::string& what) {
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_number() || !(v->get<double>() > 0) || !std::isfinite(v->get<double>()))
    throw LoadError(what + " = " + v->dump() + ", expected a positive number of frames per second");
  return v->get<double>();
}

std::optional<int64_t> read_max_frames(const json* v, const std::string& what) {
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_number_integer() || v->get<int64_t>() <= 0 || v->get<int64_t>() > (int64_t(1) << 30))
    throw LoadError(what + " = " + v->dump() + ", expected a positive number of frames");
  return v->get<int64_t>();
}

const json* member(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

}  // namespace

VideoProcessorConfig VideoProcessorConfig::from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw LoadError(source + ": expected a JSON object, got " + j.type_name());
  VideoProcessorConfig c;
  c.source = source;
  read_bool(j, "do_convert_rgb", c.do_convert_rgb, source);
  read_bool(j, "do_resize", c.do_resize, source);
  read_bool(j, "do_rescale", c.do_rescale, source);
  read_bool(j, "do_normalize", c.do_normalize, source);
  read_bool(j, "do_pad", c.do_pad, source);
  read_max_side(j, c.max_image_longest_edge, source, "a frame side");
  read_resample_and_rescale(j, c.resample, c.rescale_factor, source);
  read_triplet(j, "image_mean", c.image_mean, source, false);
  read_triplet(j, "image_std", c.image_std, source, true);

  // SmolVLMVideoProcessor.__init__: `video_sampling` wins over fps / num_frames, and its
  // video_size gives way to `size` when both are there.
  const json* size = member(j, "size");
  if (size && size->is_null()) size = nullptr;
  const json* vs = member(j, "video_sampling");
  if (vs && !vs->is_null()) {
    if (!vs->is_object()) throw LoadError(where(source, "video_sampling") + " = " + vs->dump() + ", expected an object");
    for (const char* key : {"fps", "max_frames"})
      if (!vs->contains(key))
        throw LoadError(where(source, std::string("video_sampling.") + key) +
                        " is missing (transformers reads it unconditionally)");
    c.fps = read_fps(member(*vs, "fps"), where(source, "video_sampling.fps"));
    c.max_frames = read_max_frames(member(*vs, "max_frames"), where(source, "video_sampling.max_frames"));
    if (size) {
      read_video_size(*size, where(source, "size"), c);
    } else {
      const json* video_size = member(*vs, "video_size");
      if (!video_size || video_size->is_null())
        throw LoadError(where(source, "video_sampling.video_size") + " is missing, and there is no \"size\"");
      read_video_size(*video_size, where(source, "video_sampling.video_size"), c);
    }
  } else {
    c.fps = read_fps(member(j, "fps"), where(source, "fps"));
    c.max_frames = read_max_frames(member(j, "num_frames"), where(source, "num_frames"));
    if (size) read_video_size(*size, where(source, "size"), c);
  }
  return c;
}

std::optional<VideoProcessorConfig> VideoProcessorConfig::load(const std::filesystem::path& dir) {
  const auto proc = dir / "processor_config.json";
  if (std::filesystem::exists(proc)) {
    const json processor = read_config_json_file(proc);
    if (processor.is_object())
      if (auto it = processor.find("video_processor"); it != processor.end() && !it->is_null())
        return from_json(*it, proc.string() + " video_processor");
  }
  for (const char* name : {"video_preprocessor_config.json", "preprocessor_config.json"}) {
    const auto file = dir / name;
    if (std::filesystem::exists(file)) return from_json(read_config_json_file(file), file.string());
  }
  return std::nullopt;
}

}  // namespace smolvk
