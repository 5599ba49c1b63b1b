// smolvk chat: an interactive conversation that keeps the KV cache between turns.
#include <cstdio>
#include <iostream>

#include "apps/cli/commands.h"
#include "apps/cli/model_args.h"
#include "model/chat_session.h"

namespace smolvk::cli {
namespace {
const char* kCommands =
    "commands: /image FILE (attach an image to the next message), /reset (new conversation), "
    "/help, /quit; start a message with '//' to send it with one leading '/'\n";

const char* kHelp =
    "usage: smolvk chat [--model DIR] [--image FILE]... [options]\n"
    "\n"
    "Reads one user message per line from stdin and streams each answer. The conversation's\n"
    "KV cache (image features included) is kept, so a turn only processes its new tokens.\n"
    "Lines starting with '/' are commands (an unknown one is reported, not sent; start a\n"
    "message with '//' to send it with one leading '/'):\n"
    "  /image FILE   attach an image to the next message (repeatable)\n"
    "  /reset        start a new conversation\n"
    "  /help         list these commands\n"
    "  /quit         leave (as does end of input)\n"
    "\n"
    "  --model DIR, --dtype auto|bf16, --max-new-tokens N (default 256), --temperature T, --top-k K,\n"
    "  --top-p P, --seed S: as for 'smolvk run'. --image FILE attaches images to the first message.\n"
    "  --context N   positions kept for the conversation (default min(model max, 4096))\n";
}  // namespace

int cmd_chat(const std::vector<std::string>& argv) {
  auto specs = model_and_sampling_specs();
  specs.push_back({"image", true, true});
  specs.push_back({"context", true});
  Args a(argv, specs);
  if (a.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  Context ctx;
  auto model = load_model(ctx, model_dir(a), false, nullptr, load_options_from(a));
  ChatSession chat(*model, a.get_int("context", 0));
  GenerateOptions o;
  o.max_new_tokens = int(a.get_int("max-new-tokens", 256));
  o.sampling = sampling_from(a);
  std::vector<Image> images;
  for (const auto& f : a.all("image")) images.push_back(load_image(f));
  std::fprintf(stderr, "smolvk chat: %lld positions of context. /image FILE, /reset, /help, /quit.\n",
               static_cast<long long>(chat.capacity()));
  std::string line;
  while (true) {
    std::fprintf(stderr, "> ");
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/quit") break;
    if (line == "/reset") {
      chat.reset();
      images.clear();
      std::fprintf(stderr, "(new conversation)\n");
      continue;
    }
    if (line == "/help") {
      std::fputs(kCommands, stderr);
      continue;
    }
    if (line.rfind("/image ", 0) == 0) {
      try {
        images.push_back(load_image(line.substr(7)));
        std::fprintf(stderr, "(image attached to the next message)\n");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
      }
      continue;
    }
    if (line.rfind("//", 0) == 0) {
      line.erase(0, 1);  // '//text' sends '/text'
    } else if (line[0] == '/') {
      std::fprintf(stderr,
                   "error: unknown command '%s'; /help lists them (start a message with '//' to "
                   "send it with a leading '/')\n",
                   line.substr(0, line.find(' ')).c_str());
      continue;
    }
    try {
      Result r = chat.send(line, images, o, [](int, int32_t, const std::string& piece) {
        std::fputs(piece.c_str(), stdout);
        std::fflush(stdout);
      });
      images.clear();
      std::printf("\n");
      std::fflush(stdout);
      std::fprintf(stderr, "(%d tokens, %s; %lld of %lld positions used)\n", r.timings.new_tokens,
                   r.stop_reason.c_str(), static_cast<long long>(chat.tokens_in_context()),
                   static_cast<long long>(chat.capacity()));
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
    }
  }
  return 0;
}

}  // namespace smolvk::cli
