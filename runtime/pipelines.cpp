// Compute pipelines from embedded SPIR-V, keyed by (shader, specialization constants), and
// the on-disk VkPipelineCache keyed by vendor, device, driver version and cache UUID.
#include <algorithm>
#include <atomic>
#include <exception>
#include <set>
#include <thread>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "runtime/context_impl.h"
#include "runtime/shader_registry.h"

namespace smolvk {
namespace {

// Empty: no on-disk cache ("none" from the options or $SMOLVK_CACHE_DIR, or no home).
std::filesystem::path cache_directory(const ContextOptions& o) {
  if (!o.cache_dir.empty()) return o.cache_dir == "none" ? std::filesystem::path() : std::filesystem::path(o.cache_dir);
  if (const char* d = std::getenv("SMOLVK_CACHE_DIR"); d && *d)
    return std::string(d) == "none" ? std::filesystem::path() : std::filesystem::path(d);
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "smolvk";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "smolvk";
  return {};
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

// The header every VkPipelineCache blob starts with; checked before handing data to a driver.
bool header_matches(const std::string& data, const Capabilities& c) {
  if (data.size() < 32) return false;
  uint32_t len, version, vendor, device;
  std::memcpy(&len, data.data(), 4);
  std::memcpy(&version, data.data() + 4, 4);
  std::memcpy(&vendor, data.data() + 8, 4);
  std::memcpy(&device, data.data() + 12, 4);
  return len >= 32 && version == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && vendor == c.vendor_id &&
         device == c.device_id && std::memcmp(data.data() + 16, c.pipeline_cache_uuid.data(), 16) == 0;
}

}  // namespace

void Context::Impl::load_pipeline_cache() {
  if (const char* v = std::getenv("SMOLVK_LOG_PIPELINES"); v && *v && std::string(v) != "0") log_pipelines = true;
  std::string data;
  if (const auto dir = cache_directory(options); !dir.empty()) {
    {
      std::ostringstream name;
      name << "pipelines-" << std::hex << caps.vendor_id << "-" << caps.device_id << "-" << caps.driver_version << "-"
           << hex(caps.pipeline_cache_uuid.data(), 16) << ".bin";
      cache_stats.file = dir / name.str();
      std::ifstream in(cache_stats.file, std::ios::binary);
      if (in) data.assign(std::istreambuf_iterator<char>(in), {});
      if (!header_matches(data, caps)) data.clear();
    }
  }
  cache_stats.loaded_bytes = data.size();
  cache_stats.hit_reporting = creation_feedback;
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = data.size();
  ci.pInitialData = data.empty() ? nullptr : data.data();
  VK_CHECK(vkCreatePipelineCache(device, &ci, nullptr, &pipeline_cache));
}

void Context::Impl::save_pipeline_cache() {
  if (!cache_dirty || cache_stats.file.empty()) return;
  size_t size = 0;
  VK_CHECK(vkGetPipelineCacheData(device, pipeline_cache, &size, nullptr));
  std::string data(size, '\0');
  VK_CHECK(vkGetPipelineCacheData(device, pipeline_cache, &size, data.data()));
  std::error_code ec;
  std::filesystem::create_directories(cache_stats.file.parent_path(), ec);
  auto tmp = cache_stats.file;
  tmp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return;
    out.write(data.data(), std::streamsize(size));
    if (!out) return;
  }
  std::filesystem::rename(tmp, cache_stats.file, ec);  // atomic: concurrent starts never see half a file
  if (ec) std::filesystem::remove(tmp, ec);
  cache_dirty = false;
}

namespace {
std::string pipeline_key(const std::string& shader, std::span<const uint32_t> spec) {
  std::string key = shader;
  for (uint32_t v : spec) key += ":" + std::to_string(v);
  return key;
}
}  // namespace

// The map and the module under the lock; the driver's compile outside it (VkPipelineCache is
// internally synchronized), so that several threads compile at once (prepare_pipelines).
VkPipeline Context::Impl::pipeline(const std::string& shader, std::span<const uint32_t> spec) {
  const std::string key = pipeline_key(shader, spec);
  VkShaderModule module = VK_NULL_HANDLE;
  {
    std::lock_guard lock(pipeline_mutex);
    if (auto it = pipelines.find(key); it != pipelines.end()) return it->second;
    VkShaderModule& m = modules[shader];
    if (!m) {
      const EmbeddedShader* s = find_embedded_shader(shader);
      if (!s) {
        modules.erase(shader);
        throw GpuError("no embedded shader named '" + shader + "' (see shaders/variants.cmake)");
      }
      VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
      mci.codeSize = s->word_count * 4;
      mci.pCode = s->words;
      VK_CHECK(vkCreateShaderModule(device, &mci, nullptr, &m));
    }
    module = m;
  }

  std::vector<VkSpecializationMapEntry> entries(spec.size());
  for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4, 4};
  VkSpecializationInfo si{uint32_t(entries.size()), entries.data(), spec.size() * 4, spec.data()};

  VkPipelineCreationFeedback feedback{};
  VkPipelineCreationFeedbackCreateInfo fci{VK_STRUCTURE_TYPE_PIPELINE_CREATION_FEEDBACK_CREATE_INFO};
  fci.pPipelineCreationFeedback = &feedback;
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  if (creation_feedback) ci.pNext = &fci;
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
  // Every shader takes its (1-D) workgroup size from constant 0. Where that is a whole number
  // of the largest subgroups the device may pick (the rule for this flag without a required
  // size), ask for full subgroups. The kernels stay correct without it: they never assume a
  // subgroup has gl_SubgroupSize active invocations.
  const uint32_t sg_max = std::max(caps.subgroup_size, caps.max_subgroup_size);
  if (caps.full_subgroups && !spec.empty() && sg_max && spec[0] % sg_max == 0)
    ci.stage.flags |= VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT_EXT;
  ci.layout = pipeline_layout;
  if (executable_stats) ci.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
  VkPipeline p = VK_NULL_HANDLE;
  const auto t0 = std::chrono::steady_clock::now();
  VkResult r = vkCreateComputePipelines(device, pipeline_cache, 1, &ci, nullptr, &p);
  if (log_pipelines)
    std::fprintf(
        stderr, "smolvk: pipeline %s%s: %.1f ms\n", key.c_str(),
        (ci.stage.flags & VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT_EXT) ? " (full subgroups)" : "",
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  if (r != VK_SUCCESS) throw GpuError("vkCreateComputePipelines(" + key + ")", int(r), vk_result_name(r));
  if (executable_stats) log_executable_stats(p, key);
  std::lock_guard lock(pipeline_mutex);
  if (auto it = pipelines.find(key); it != pipelines.end()) {  // another thread made it meanwhile
    vkDestroyPipeline(device, p, nullptr);
    return it->second;
  }
  ++cache_stats.pipelines_created;
  if (creation_feedback && (feedback.flags & VK_PIPELINE_CREATION_FEEDBACK_VALID_BIT) &&
      (feedback.flags & VK_PIPELINE_CREATION_FEEDBACK_APPLICATION_PIPELINE_CACHE_HIT_BIT))
    ++cache_stats.cache_hits;
  else
    cache_dirty = true;
  pipelines[key] = p;
  return p;
}

void Context::Impl::log_executable_stats(VkPipeline p, const std::string& key) {
  VkPipelineInfoKHR info{VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR};
  info.pipeline = p;
  uint32_t n = 0;
  if (get_executables(device, &info, &n, nullptr) != VK_SUCCESS) return;
  for (uint32_t e = 0; e < n; ++e) {
    VkPipelineExecutableInfoKHR ei{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
    ei.pipeline = p;
    ei.executableIndex = e;
    uint32_t sn = 0;
    if (get_executable_stats(device, &ei, &sn, nullptr) != VK_SUCCESS) continue;
    std::vector<VkPipelineExecutableStatisticKHR> st(sn, {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR});
    if (get_executable_stats(device, &ei, &sn, st.data()) != VK_SUCCESS) continue;
    std::string line;
    for (const auto& x : st) {
      line += std::string(line.empty() ? "" : ", ") + x.name + " ";
      switch (x.format) {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
          line += x.value.b32 ? "yes" : "no";
          break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
          line += std::to_string(x.value.i64);
          break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
          line += std::to_string(x.value.u64);
          break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR:
          line += std::to_string(x.value.f64);
          break;
        default:
          line += "?";
      }
    }
    std::fprintf(stderr, "smolvk: pipeline %s statistics: %s\n", key.c_str(), line.c_str());
  }
}

void Context::Impl::prepare_pipelines(const std::vector<std::pair<std::string, std::vector<uint32_t>>>& list) {
  std::vector<const std::pair<std::string, std::vector<uint32_t>>*> missing;
  {
    std::lock_guard lock(pipeline_mutex);
    std::set<std::string> seen;
    for (const auto& e : list) {
      std::string key = pipeline_key(e.first, e.second);
      if (!pipelines.count(key) && seen.insert(std::move(key)).second) missing.push_back(&e);
    }
  }
  // A driver compile takes tens of ms on NVIDIA's: one thread per pipeline, up to 8 (or the
  // cores; SMOLVK_PIPELINE_THREADS sets another cap, 1 = one at a time).
  size_t cap = 8;
  if (const char* v = std::getenv("SMOLVK_PIPELINE_THREADS"); v && *v) cap = std::clamp<long>(std::atol(v), 1, 64);
  const size_t threads = std::min<size_t>({missing.size(), std::max(1u, std::thread::hardware_concurrency()), cap});
  if (threads <= 1) {
    for (const auto* e : missing) pipeline(e->first, e->second);
    return;
  }
  std::atomic<size_t> next{0};
  auto take_missing = [&] {  // compile the not yet taken ones until none is left
    for (size_t i = next++; i < missing.size(); i = next++) pipeline(missing[i]->first, missing[i]->second);
  };
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  bool all_started = true;
  try {
    for (size_t t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        try {
          take_missing();
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
  } catch (...) {  // no thread to be had: the ones started, then this one, finish what is left
    all_started = false;
  }
  for (auto& th : pool) th.join();
  if (!all_started) take_missing();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void Context::prepare_pipeline(const std::string& shader, std::span<const uint32_t> spec) {
  impl_->pipeline(shader, spec);
}
PipelineCacheStats Context::pipeline_cache_stats() const { return impl_->cache_stats; }
void Context::save_pipeline_cache() { impl_->save_pipeline_cache(); }

}  // namespace smolvk
