// smolvk info: the devices and what smolvk will use on each.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.h"
#include "apps/cli/model_args.h"
#include "apps/cli/model_summary.h"
#include "loader/error.h"
#include "model/ops/attention.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/matmul.h"
#include "runtime/context.h"
#include "runtime/device_profiles.h"

namespace smolvk::cli {

namespace {

struct KernelRow {
  const char* what;
  std::string kernel;
};

// SigLIP-so400m's attention (SmolVLM-Instruct, SmolVLM2-2.2B, Idefics3-8B): heads of 72, padded
// where that puts them on tensor cores.
std::string so400m_attention(const Capabilities& c) {
  const int64_t hd = ops::vision_attention_head_dim(c, 72);
  return ops::encoder_attention_kernel_choice(c, hd, 729) +
         (hd != 72 ? " (heads padded to " + std::to_string(hd) + ")" : std::string());
}

// The kernels smolvk would run on `c` for SmolVLM-256M's shapes (bf16 checkpoint).
std::vector<KernelRow> kernel_choices(const Capabilities& c) {
  const DType vision_w = ops::tensor_core_weight_dtype(c).value_or(DType::BF16);
  const bool vision_x_half = ops::tensor_core_activation_dtype(c, 17408, 768, 64) == DType::F16;
  return {
      {"vision GEMM, 17 tiles (17,408 x 768 -> 2,304)",
       ops::matmul_kernel_choice(c, 17408, 2304, vision_w, vision_x_half)},
      {"vision GEMM weights", std::string(dtype_name(vision_w))},
      {"vision attention (1,024 keys, head dim 64)", ops::encoder_attention_kernel_choice(c, 64, 1024)},
      {"vision attention, SigLIP-so400m (729 keys, head dim 72)", so400m_attention(c)},
      {"vision activations between tensor-core kernels",
       std::string(dtype_name(ops::tensor_core_activation_dtype(c, 17408, 768, 64)))},
      {"prefill GEMM (1,108 x 576 -> 960)", ops::matmul_kernel_choice(c, 1108, 960, DType::BF16)},
      {"decode batch 32 (32 x 576 -> 1,536)", ops::matmul_kernel_choice(c, 32, 1536, DType::BF16)},
      {"decode batch 8", ops::matmul_kernel_choice(c, 8, 1536, DType::BF16, false, 1536 * 576 * 2)},
      {"decode batch 8, 8B gate_up (8 x 4,096 -> 28,672)",
       ops::matmul_kernel_choice(c, 8, 28672, DType::BF16, false, 28672ull * 4096 * 2)},
      {"decode batch 1", ops::matmul_kernel_choice(c, 1, 1536, DType::BF16)},
  };
}

}  // namespace

int cmd_info(const std::vector<std::string>& args) {
  bool json = false, kernels = false;
  std::string model;
  bool f32_as_bf16 = false;  // --dtype bf16 (with --model)
  ContextOptions opts = ContextOptions::from_env();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json")
      json = true;
    else if (a == "--kernels")
      kernels = true;
    else if (a == "--profile" || a.rfind("--profile=", 0) == 0) {
      if (a == "--profile" && i + 1 >= args.size()) {
        std::fprintf(stderr, "smolvk info: --profile needs a name (--profiles lists them)\n");
        return 2;
      }
      opts.profile = a == "--profile" ? args[++i] : a.substr(10);
      kernels = true;
    } else if (a == "--model" || a.rfind("--model=", 0) == 0) {
      if (a == "--model" && i + 1 >= args.size()) {
        std::fprintf(stderr, "smolvk info: --model needs a checkpoint folder\n");
        return 2;
      }
      model = a == "--model" ? args[++i] : a.substr(8);
    } else if (a == "--dtype" || a.rfind("--dtype=", 0) == 0) {
      const std::string v = a == "--dtype" ? (i + 1 < args.size() ? args[++i] : "") : a.substr(8);
      const std::optional<LoadOptions> load = load_options_for(v);
      if (!load) {
        std::fprintf(stderr, "smolvk info: --dtype '%s': expected %s\n", v.c_str(), kLoadDtypeChoices);
        return 2;
      }
      f32_as_bf16 = load->f32_as_bf16;
    } else if (a == "--profiles") {
      for (const DeviceProfile& p : device_profiles())
        std::printf(
            "%-12s %s\n             subgroup %u, shared memory %u KiB, workgroup %u, storage range %.0f MiB,"
            " float atomics %s\n             source: %s\n",
            p.name, p.gpu, p.subgroup_size, p.max_shared_memory / 1024, p.max_workgroup_invocations,
            double(p.max_storage_buffer_range) / (1 << 20), p.float_atomic_add ? "yes" : "no", p.source);
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: smolvk info [--json] [--kernels] [--profile NAME] [--profiles] [--model DIR [--dtype auto|bf16]]\n"
          "Lists every Vulkan device with its capability report and kernel policy; the one\n"
          "smolvk picks (discrete GPU first, or $SMOLVK_DEVICE) is marked.\n"
          "  --kernels        also the kernels smolvk would run for SmolVLM-256M's shapes\n"
          "  --profile NAME   clamp each device to a real GPU class's limits and features first\n"
          "                   (as SMOLVK_DEVICE_PROFILE=NAME does for every command); implies --kernels\n"
          "  --profiles       list the device profiles and where their figures come from\n"
          "  --model DIR      describe a checkpoint folder instead (no device used): architecture,\n"
          "                   vision / text sizes, tiles of a 2048x2048 image, tokens per tile,\n"
          "                   parameters (safetensors headers, else config.json) and the device\n"
          "                   memory of the weights; config.json is enough\n"
          "  --dtype auto|bf16  with --model: the memory as 'smolvk run --dtype' loads the weights\n");
      return 0;
    } else {
      std::fprintf(stderr, "smolvk info: unknown option '%s'\n", a.c_str());
      return 2;
    }
  }
  if (!model.empty()) {
    try {
      const ModelSummary summary = summarize_model(model, f32_as_bf16);
      if (json)
        std::printf("%s\n", summary_json(summary).dump(2).c_str());
      else
        std::printf("%s", format_summary(summary).c_str());
      return 0;
    } catch (const LoadError& e) {
      std::fprintf(stderr, "smolvk info: %s\n", e.what());
      return 1;
    }
  }
  if (!opts.profile.empty()) find_device_profile(opts.profile);  // the error names the known ones
  auto devices = list_devices(opts);
  uint32_t chosen = devices.empty() ? 0 : choose_device_index(devices, opts.device);
  if (json) {
    nlohmann::json out = {{"selected", chosen}, {"devices", nlohmann::json::array()}};
    for (const auto& d : devices) {
      out["devices"].push_back(d.to_json());
      const ops::KernelPolicy policy = ops::kernel_policy(d);
      out["devices"].back()["kernel_policy"] = {{"device_class", policy.device_class}, {"settings", policy.describe()}};
      if (kernels)
        for (const KernelRow& r : kernel_choices(d)) out["devices"].back()["kernels"][r.what] = r.kernel;
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  for (const auto& c : devices) {
    auto mib = [](uint64_t b) { return double(b) / (1 << 20); };
    std::printf("%s[%u] %s (%s, %s)\n", c.index == chosen ? "* " : "  ", c.index, c.name.c_str(), c.device_type.c_str(),
                c.vendor.c_str());
    if (!c.profile.empty()) std::printf("    clamped to device profile %s\n", c.profile.c_str());
    std::printf("    Vulkan %s, driver %s %s\n", c.api_version.c_str(), c.driver_name.c_str(), c.driver_info.c_str());
    std::printf(
        "    subgroup %u (arithmetic %s, shuffle %s), shared memory %u KiB, "
        "max workgroup %u invocations\n",
        c.subgroup_size, c.subgroup_arithmetic ? "yes" : "no", c.subgroup_shuffle ? "yes" : "no",
        c.max_shared_memory / 1024, c.max_workgroup_invocations);
    std::printf(
        "    fp16 arithmetic %s, int8 %s, 16-bit storage %s, 8-bit storage %s, "
        "integer dot product %s, NV cooperative matrix %s\n",
        c.fp16_arithmetic ? "yes" : "no", c.int8_arithmetic ? "yes" : "no", c.storage_16bit ? "yes" : "no",
        c.storage_8bit ? "yes" : "no", c.integer_dot_product ? "yes" : "no", c.cooperative_matrix_nv ? "yes" : "no");
    std::printf(
        "    max storage buffer range %.0f MiB, max allocation %.0f MiB, device-local "
        "%.0f MiB, workgroup count %u×%u×%u\n",
        mib(c.max_storage_buffer_range), mib(c.max_memory_allocation_size), mib(c.device_local_bytes),
        c.max_workgroup_count[0], c.max_workgroup_count[1], c.max_workgroup_count[2]);
    std::printf("    timestamps %s (period %.3g ns, %u bits)\n", c.timestamps ? "yes" : "no", c.timestamp_period_ns,
                c.timestamp_valid_bits);
    std::printf("    fast paths: fp16 %s, subgroup %s, storage16 %s, coopmat %s, float atomics %s\n",
                c.use_fp16 ? "on" : "off", c.use_subgroup ? "on" : "off", c.use_storage16 ? "on" : "off",
                c.use_coopmat ? "on" : "off", c.use_float_atomics ? "on" : "off");
    const ops::KernelPolicy policy = ops::kernel_policy(c);
    std::printf("    kernel policy: device class %s (SMOLVK_TUNE_<NAME>=<n> overrides a setting)\n",
                policy.device_class.c_str());
    const auto settings = policy.describe();
    for (size_t i = 0; i < settings.size(); i += 3) {
      std::printf("     ");
      for (size_t j = i; j < std::min(i + 3, settings.size()); ++j) std::printf(" %-32s", settings[j].c_str());
      std::printf("\n");
    }
    if (kernels) {
      std::printf("    kernels for SmolVLM-256M's shapes (shader [specialization constants]):\n");
      for (const KernelRow& r : kernel_choices(c)) std::printf("      %-58s %s\n", r.what, r.kernel.c_str());
    }
  }
  return 0;
}

}  // namespace smolvk::cli
