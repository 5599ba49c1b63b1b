// smolvk info: the devices and what smolvk will use on each.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.h"
#include "runtime/context.h"

namespace smolvk::cli {

int cmd_info(const std::vector<std::string>& args) {
  bool json = false;
  for (const auto& a : args) {
    if (a == "--json") json = true;
    else if (a == "--help" || a == "-h") {
      std::printf("usage: smolvk info [--json]\n"
                  "Lists every Vulkan device with its capability report; the one smolvk picks\n"
                  "(discrete GPU first, or $SMOLVK_DEVICE) is marked.\n");
      return 0;
    } else {
      std::fprintf(stderr, "smolvk info: unknown option '%s'\n", a.c_str());
      return 2;
    }
  }
  auto devices = list_devices();
  ContextOptions opts = ContextOptions::from_env();
  uint32_t chosen = devices.empty() ? 0 : choose_device_index(devices, opts.device);
  if (json) {
    nlohmann::json out = {{"selected", chosen}, {"devices", nlohmann::json::array()}};
    for (const auto& d : devices) out["devices"].push_back(d.to_json());
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  for (const auto& c : devices) {
    auto mib = [](uint64_t b) { return double(b) / (1 << 20); };
    std::printf("%s[%u] %s (%s, %s)\n", c.index == chosen ? "* " : "  ", c.index, c.name.c_str(),
                c.device_type.c_str(), c.vendor.c_str());
    std::printf("    Vulkan %s, driver %s %s\n", c.api_version.c_str(), c.driver_name.c_str(),
                c.driver_info.c_str());
    std::printf("    subgroup %u (arithmetic %s, shuffle %s), shared memory %u KiB, "
                "max workgroup %u invocations\n",
                c.subgroup_size, c.subgroup_arithmetic ? "yes" : "no", c.subgroup_shuffle ? "yes" : "no",
                c.max_shared_memory / 1024, c.max_workgroup_invocations);
    std::printf("    fp16 arithmetic %s, int8 %s, 16-bit storage %s, 8-bit storage %s, "
                "integer dot product %s, NV cooperative matrix %s\n",
                c.fp16_arithmetic ? "yes" : "no", c.int8_arithmetic ? "yes" : "no",
                c.storage_16bit ? "yes" : "no", c.storage_8bit ? "yes" : "no",
                c.integer_dot_product ? "yes" : "no", c.cooperative_matrix_nv ? "yes" : "no");
    std::printf("    max storage buffer range %.0f MiB, max allocation %.0f MiB, device-local "
                "%.0f MiB, workgroup count %u×%u×%u\n",
                mib(c.max_storage_buffer_range), mib(c.max_memory_allocation_size),
                mib(c.device_local_bytes), c.max_workgroup_count[0], c.max_workgroup_count[1],
                c.max_workgroup_count[2]);
    std::printf("    timestamps %s (period %.3g ns, %u bits)\n", c.timestamps ? "yes" : "no",
                c.timestamp_period_ns, c.timestamp_valid_bits);
    std::printf("    fast paths: fp16 %s, subgroup %s, storage16 %s, coopmat %s, float atomics %s\n",
                c.use_fp16 ? "on" : "off", c.use_subgroup ? "on" : "off",
                c.use_storage16 ? "on" : "off", c.use_coopmat ? "on" : "off",
                c.use_float_atomics ? "on" : "off");
  }
  return 0;
}

}  // namespace smolvk::cli
