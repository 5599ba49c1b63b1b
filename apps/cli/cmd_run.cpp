// smolvk run: one prompt (+ images) in, the answer streamed to stdout, timings to stderr.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.h"
#include "apps/cli/model_args.h"
#include "loader/npy.h"
#include "loader/video.h"

namespace smolvk::cli {
namespace {
const char* kHelp =
    "usage: smolvk run [--model DIR] [--image FILE]... --prompt TEXT [options]\n"
    "       smolvk run [--model DIR] --video FILE --prompt TEXT [options]\n"
    "       smolvk run [--model DIR] [--image FILE]... --prompt-ids 1,2,3 [options]\n"
    "       smolvk run [--model DIR] --inputs-embeds F.npy [options]\n"
    "\n"
    "Answers a prompt about zero or more images, or about a video, streaming the text to stdout\n"
    "and timings (load, image encode, prefill, tokens/s) to stderr.\n"
    "\n"
    "  --model DIR           Hugging Face SmolVLM / Idefics3 folder (config.json, *.safetensors,\n"
    "                        tokenizer.json, processor files). Default: the demo checkpoint in\n"
    "                        examples/demo-model (random weights).\n"
    "  --dtype auto|bf16     auto (default): tensors as the checkpoint stores them; bf16: its f32\n"
    "                        tensors kept as bf16, half their memory (as transformers loads with\n"
    "                        dtype=torch.bfloat16); the arithmetic stays f32\n"
    "  --image FILE          an image (PNG, JPEG, WebP, BMP, GIF, TGA, PNM); repeat for several, in order\n"
    "  --video FILE          a video (MP4, WebM, MKV, AVI, MOV, ... as FFmpeg reads them) for a\n"
    "                        SmolVLM2 checkpoint: frames sampled and laid out as transformers'\n"
    "                        SmolVLM video processor does (the checkpoint's video_sampling: fps,\n"
    "                        max_frames, size; every frame when it has none), each frame one\n"
    "                        image with its timestamp. Not with --image or --prompt-ids. Refused\n"
    "                        when the checkpoint has no video processor settings or its video\n"
    "                        frames are not the vision encoder's size (so for the demo checkpoint)\n"
    "  --prompt TEXT         the user message; the images (or the video) come before it\n"
    "  --prompt-ids LIST     token ids as they are (no chat template, no tokenizer); the prompt\n"
    "                        must already hold the expanded image tokens of the --image files\n"
    "  --inputs-embeds F.npy float32 [rows, hidden] (or [1, rows, hidden]): the decoder's input\n"
    "                        embeddings as they are, in place of a prompt and images (as\n"
    "                        transformers' inputs_embeds; positions 0 .. rows-1). Generated\n"
    "                        tokens are embedded as usual\n"
    "  --max-new-tokens N    default 64\n"
    "  --temperature T       0 = greedy (default)\n"
    "  --top-k K             0 = off (default)\n"
    "  --top-p P             1 = off (default)\n"
    "  --seed S              sampling seed (default 0): same seed, same tokens\n"
    "  --ignore-eos          generate all N tokens\n"
    "  --json                print one JSON object (input_ids, output_ids, text, timings)\n"
    "                        instead of streaming\n"
    "  --dump-logits F.npy   float32 logits of the last prompt position\n"
    "  --dump-pixel-values F.npy  float32 [tiles, 3, H, W] as fed to the vision encoder\n"
    "  --dump-image-features F.npy  float32 [tiles, tokens per tile, hidden]: the connector's\n"
    "                        output, the rows that replace the image tokens (transformers'\n"
    "                        get_image_features); an extra encoder pass\n";

// --inputs-embeds: a float32 .npy of [rows, hidden] or [1, rows, hidden], checked before use.
std::vector<float> read_embeddings(const std::string& path, int64_t hidden) {
  NpyArray a = read_npy(path);
  const auto& s = a.shape;
  const bool shape_ok = (s.size() == 2 && s[1] == hidden && s[0] > 0) ||
                        (s.size() == 3 && s[0] == 1 && s[2] == hidden && s[1] > 0);
  if (!a.is_float() || !shape_ok) {
    std::string got;
    for (int64_t d : s) got += (got.empty() ? "" : ", ") + std::to_string(d);
    throw std::invalid_argument("--inputs-embeds " + path + ": expected float32 [rows, " + std::to_string(hidden) +
                                "] or [1, rows, " + std::to_string(hidden) + "] (the checkpoint's text hidden size), got " +
                                (a.is_float() ? "float32" : "a non-float array") + " [" + got + "]");
  }
  for (size_t i = 0; i < a.floats.size(); ++i)
    if (!std::isfinite(a.floats[i]))
      throw std::invalid_argument("--inputs-embeds " + path + ": value " + std::to_string(i) + " is not finite");
  return std::move(a.floats);
}
}  // namespace

int cmd_run(const std::vector<std::string>& argv) {
  auto specs = model_and_sampling_specs();
  for (auto s : std::vector<Args::Spec>{{"image", true, true},
                                        {"video", true},
                                        {"prompt", true},
                                        {"prompt-ids", true},
                                        {"ignore-eos", false},
                                        {"json", false},
                                        {"dump-logits", true},
                                        {"dump-pixel-values", true},
                                        {"dump-image-features", true},
                                        {"inputs-embeds", true}})
    specs.push_back(s);
  Args a(argv, specs);
  if (a.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (int(a.has("prompt")) + int(a.has("prompt-ids")) + int(a.has("inputs-embeds")) != 1)
    throw std::invalid_argument("give --prompt TEXT, --prompt-ids LIST or --inputs-embeds F.npy (exactly one); see --help");
  if (a.has("inputs-embeds") && (a.has("image") || a.has("video")))
    throw std::invalid_argument("--inputs-embeds takes no --image or --video: the embeddings already hold them");
  const bool json = a.has("json");
  GenerateOptions o;
  o.max_new_tokens = int(a.get_int("max-new-tokens", 64));
  if (o.max_new_tokens < 1) throw std::invalid_argument("--max-new-tokens must be at least 1");
  o.sampling = sampling_from(a);
  o.ignore_eos = a.has("ignore-eos");
  o.want_last_logits = a.has("dump-logits");

  if (a.has("video") && a.has("image")) throw std::invalid_argument("give --image or --video, not both");
  if (a.has("video") && !a.has("prompt")) throw std::invalid_argument("--video needs --prompt TEXT (not --prompt-ids)");

  Context ctx;
  double load_ms = 0;
  auto model = load_model(ctx, model_dir(a), json, &load_ms, load_options_from(a));
  Request req;
  for (const auto& f : a.all("image")) req.images.push_back(load_image(f));
  if (a.has("video")) {
    const VideoProcessorConfig& vp = model->video_processor();  // refused before decoding anything
    req.videos.push_back(load_video(a.get("video"), frame_sampler(vp)));
    const VideoMetadata& m = req.videos.back().metadata;
    if (!json) {
      std::string frames;
      for (int64_t i : m.frame_indices) frames += (frames.empty() ? "" : ",") + std::to_string(i);
      std::fprintf(stderr, "smolvk: video %dx%d, %lld frames at %.3f fps (%.3f s); frames %s\n", m.width, m.height,
                   (long long)m.total_frames, m.fps, m.duration, frames.c_str());
    }
  }
  if (a.has("prompt")) {
    ChatMessage user{"user", {}};
    for (size_t i = 0; i < req.images.size(); ++i) user.content.push_back({ChatItem::Image, {}});
    for (size_t i = 0; i < req.videos.size(); ++i) user.content.push_back({ChatItem::Video, {}});
    user.content.push_back({ChatItem::Text, a.get("prompt")});
    req.messages.push_back(std::move(user));
  } else if (a.has("prompt-ids")) {
    req.prompt_ids = parse_id_list(a.get("prompt-ids"));
  } else {
    req.input_embeds = read_embeddings(a.get("inputs-embeds"), model->config().text.hidden_size);
  }
  if (a.has("dump-pixel-values") || a.has("dump-image-features")) {
    const PreparedRequest p = model->prepare(req);
    const ModelConfig& c = model->config();
    if (a.has("dump-pixel-values")) {
      const std::vector<int64_t> shape{p.tiles, c.vision.num_channels, p.tile_height, p.tile_width};
      write_npy(a.get("dump-pixel-values"), model->pixel_values(p), shape);
    }
    if (a.has("dump-image-features")) {
      if (p.tiles == 0) throw std::invalid_argument("--dump-image-features: the request has no image or video");
      const std::vector<int64_t> shape{p.tiles, c.image_seq_len(), c.text.hidden_size};
      write_npy(a.get("dump-image-features"), model->encode_images(p), shape);
    }
  }

  Result r = model->generate(req, o, [&](int, int32_t, const std::string& piece) {
    if (!json) {
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
    }
  });
  if (a.has("dump-logits")) {
    std::vector<int64_t> shape{int64_t(r.last_logits.size())};
    write_npy(a.get("dump-logits"), r.last_logits, shape);
  }
  const auto& t = r.timings;
  const double tok_s = t.new_tokens > 1 && t.decode_ms > 0 ? (t.new_tokens - 1) * 1000.0 / t.decode_ms : 0.0;
  if (json) {
    nlohmann::json out = {{"input_ids", r.input_ids},
                          {"output_ids", r.output_ids},
                          {"text", r.text},
                          {"stop_reason", r.stop_reason},
                          {"device", ctx.caps().name},
                          // the checkpoint read and uploaded (what "loaded ... in T ms" says without --json)
                          {"load", {{"ms", load_ms}, {"weight_bytes", model->weight_bytes()}}},
                          {"timings",
                           {{"encode_ms", t.encode_ms},
                            {"prefill_ms", t.prefill_ms},
                            {"decode_ms", t.decode_ms},
                            {"first_token_ms", t.first_token_ms},
                            {"tiles", t.tiles},
                            {"prompt_tokens", t.prompt_tokens},
                            {"new_tokens", t.new_tokens},
                            {"decode_tokens_per_s", tok_s}}}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr,
                 "smolvk: %d tiles encoded in %.1f ms, %d prompt tokens prefilled in %.1f ms, "
                 "%d tokens (%s), %.1f tokens/s, first token after %.1f ms\n",
                 t.tiles, t.encode_ms, t.prompt_tokens, t.prefill_ms, t.new_tokens, r.stop_reason.c_str(), tok_s,
                 t.first_token_ms);
  }
  return 0;
}

}  // namespace smolvk::cli
