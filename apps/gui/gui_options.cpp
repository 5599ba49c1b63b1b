#include "apps/gui/gui_options.h"

#include <stdexcept>

#include "apps/cli/model_args.h"

namespace smolvk::gui {

const char* kGuiHelp =
    "usage: smolvk-gui [--model DIR] [--image FILE] [--prompt TEXT] [sampling options]\n"
    "       smolvk-gui --offscreen --script FILE [--screenshot OUT.png] [--session OUT.json]\n"
    "       smolvk-gui --offscreen --image FILE --prompt TEXT --max-new-tokens N --screenshot OUT.png\n"
    "\n"
    "Look at an image, see how the preprocessor tiles it, ask about it and watch the answer and\n"
    "the GPU time of every shader.\n"
    "\n"
    "  --model DIR           Hugging Face SmolVLM / Idefics3 folder. Default: the demo checkpoint\n"
    "                        in examples/demo-model (random weights, gibberish answers)\n"
    "  --image FILE          open this image (or drop one on the window)\n"
    "  --prompt TEXT         fill the prompt box (offscreen without --script: ask it once)\n"
    "  --max-new-tokens N    default 32\n"
    "  --temperature T --top-k K --top-p P --seed S   sampling (default greedy)\n"
    "  --offscreen           no window: render to an image (works without a display)\n"
    "  --script FILE         drive the UI from FILE, one step a line (see apps/gui/README.md)\n"
    "  --screenshot OUT.png  (offscreen) write the last frame as PNG when the script ends\n"
    "  --session OUT.json    write the session (ids, text, timings, frame rate) as JSON;\n"
    "                        default: the screenshot path with .json\n"
    "  --size WxH            window / image size, default 1280x800\n"
    "  --ui-device MODE      shared: draw with the inference device and queue; own: a second\n"
    "                        logical device on the same GPU; auto (default): own on CPU drivers\n"
    "                        such as lavapipe (one queue: frames would wait for each compute\n"
    "                        submission), shared elsewhere\n";

GuiOptions parse_gui_options(const std::vector<std::string>& argv) {
  auto specs = cli::model_and_sampling_specs();
  for (auto s : std::vector<cli::Args::Spec>{{"image", true},
                                             {"prompt", true},
                                             {"offscreen", false},
                                             {"script", true},
                                             {"screenshot", true},
                                             {"session", true},
                                             {"size", true},
                                             {"ui-device", true}})
    specs.push_back(s);
  cli::Args a(argv, specs);
  GuiOptions o;
  o.help = a.has("help");
  o.model_dir = cli::model_dir(a);
  if (a.has("image")) o.image = a.get("image");
  if (a.has("prompt")) o.prompt = a.get("prompt");
  o.max_new_tokens = int(a.get_int("max-new-tokens", 32));
  if (o.max_new_tokens < 1) throw std::invalid_argument("--max-new-tokens must be at least 1");
  o.sampling = cli::sampling_from(a);
  o.offscreen = a.has("offscreen");
  if (a.has("script")) o.script = a.get("script");
  if (a.has("screenshot")) o.screenshot = a.get("screenshot");
  if (a.has("session")) o.session = a.get("session");
  if (!o.session && o.screenshot) o.session = std::filesystem::path(*o.screenshot).replace_extension(".json");
  if (a.has("size")) {
    std::string s = a.get("size");
    auto x = s.find('x');
    try {
      if (x == std::string::npos) throw std::invalid_argument("");
      size_t end = 0;
      o.width = std::stoi(s.substr(0, x), &end);
      if (end != x) throw std::invalid_argument("");
      o.height = std::stoi(s.substr(x + 1), &end);
      if (end != s.size() - x - 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw std::invalid_argument("--size " + s + ": expected WIDTHxHEIGHT, e.g. 1280x800");
    }
    if (o.width < 320 || o.height < 240 || o.width > 8192 || o.height > 8192)
      throw std::invalid_argument("--size " + s + ": each side must be within 320x240 .. 8192x8192");
  }
  o.ui_device = a.get("ui-device", "auto");
  if (o.ui_device != "auto" && o.ui_device != "shared" && o.ui_device != "own")
    throw std::invalid_argument("--ui-device " + o.ui_device + ": expected shared, own or auto");
  if (o.screenshot && !o.offscreen)
    throw std::invalid_argument("--screenshot needs --offscreen (a window's frames are not read back)");
  return o;
}

}  // namespace smolvk::gui
