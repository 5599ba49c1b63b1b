// smolvk — command-line entry point. Subcommands live in cmd_*.cpp.
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "apps/cli/commands.h"

namespace {
// `smolvk serve ARGS` runs smolvk-serve ARGS from this binary's folder (the server is its own
// executable: it alone links the HTTP library).
int exec_serve(char** argv) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string server = (self.parent_path() / "smolvk-serve").string();
  argv[1] = const_cast<char*>(server.c_str());
  ::execv(server.c_str(), argv + 1);
  std::fprintf(stderr,
               "smolvk serve: cannot run %s (%s): build or install the smolvk-serve target "
               "(needs libcpp-httplib-dev)\n",
               server.c_str(), std::strerror(errno));
  return 1;
}

void usage(FILE* out) {
  std::fprintf(out,
               "usage: smolvk <command> [options]\n"
               "\n"
               "commands:\n"
               "  info     list Vulkan devices and their capabilities (--json for JSON);\n"
               "           --model DIR describes a checkpoint folder (shapes, tiles, parameters, memory)\n"
               "  run      answer one prompt about images, streaming the text\n"
               "  chat     interactive multi-turn chat (the KV cache is kept between turns)\n"
               "  bench    time encode, prefill, decode and cold start (--shape for random weights)\n"
               "  profile  GPU time per op, shader variant and layer op of one generate (--trace for Perfetto)\n"
               "  soak     host and device memory over 1,000 generate calls and a 4,096-position chat\n"
               "  serve    OpenAI-compatible HTTP server (runs smolvk-serve; 'smolvk serve --help')\n"
               "\n"
               "Run 'smolvk <command> --help' for the options of a command.\n"
               "Environment: SMOLVK_DEVICE=<index|name> picks the device, SMOLVK_PORTABLE=1\n"
               "turns every fast path off, SMOLVK_VALIDATION=1 enables the validation layer.\n");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "serve") return exec_serve(argv);
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "info") return smolvk::cli::cmd_info(args);
    if (cmd == "run") return smolvk::cli::cmd_run(args);
    if (cmd == "chat") return smolvk::cli::cmd_chat(args);
    if (cmd == "bench") return smolvk::cli::cmd_bench(args);
    if (cmd == "profile") return smolvk::cli::cmd_profile(args);
    if (cmd == "soak") return smolvk::cli::cmd_soak(args);
    std::fprintf(stderr, "smolvk: unknown command '%s'\n\n", cmd.c_str());
    usage(stderr);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smolvk %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
