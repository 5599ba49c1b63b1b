#include "apps/cli/model_summary.h"

#include <cstdio>
#include <set>

#include "loader/error.h"
#include "loader/safetensors.h"

namespace smolvk::cli {
namespace {

std::string thousands(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1 << 20));
  return buf;
}

// Bytes per parameter for config.json's torch_dtype (transformers loads float32 without one).
std::pair<std::string, uint64_t> config_dtype(const ModelConfig& c) {
  if (c.torch_dtype == "bfloat16") return {"BF16", 2};
  if (c.torch_dtype == "float16") return {"F16", 2};
  return {"F32", 4};
}

}  // namespace

uint64_t parameter_count(const ModelConfig& c) {
  const uint64_t h = uint64_t(c.vision.hidden_size), vi = uint64_t(c.vision.intermediate_size);
  const uint64_t p = uint64_t(c.vision.patch_size), ch = uint64_t(c.vision.num_channels);
  uint64_t n = h * ch * p * p + h;                                   // patch embedding (conv, with bias)
  n += uint64_t(c.vision.num_patches()) * h;                         // position embedding
  const uint64_t vision_layer = 2 * h                                // layer_norm1
                                + 4 * (h * h + h)                    // q, k, v, out_proj
                                + 2 * h                              // layer_norm2
                                + (vi * h + vi)                      // fc1
                                + (h * vi + h);                      // fc2
  n += uint64_t(c.vision.num_hidden_layers) * vision_layer + 2 * h;  // + post_layernorm
  const uint64_t H = uint64_t(c.text.hidden_size), ti = uint64_t(c.text.intermediate_size);
  const uint64_t s = uint64_t(c.scale_factor);
  n += H * h * s * s;  // connector, no bias
  const uint64_t q = uint64_t(c.text.num_attention_heads * c.text.head_dim);
  const uint64_t kv = uint64_t(c.text.num_key_value_heads * c.text.head_dim);
  const uint64_t text_layer = H              // input_layernorm
                              + H * q        // q_proj
                              + 2 * H * kv   // k_proj, v_proj
                              + q * H        // o_proj
                              + H            // post_attention_layernorm
                              + 3 * H * ti;  // gate, up, down
  const uint64_t V = uint64_t(c.text.vocab_size);
  n += V * H + uint64_t(c.text.num_hidden_layers) * text_layer + H;  // embed_tokens, layers, norm
  if (!c.tied_embeddings()) n += V * H;                              // lm_head
  return n;
}

ModelSummary summarize_model(const std::filesystem::path& dir, bool f32_as_bf16) {
  ModelSummary s;
  s.f32_as_bf16 = f32_as_bf16;
  s.dir = dir;
  s.config = load_model_config(dir);
  try {
    s.processor = ProcessorConfig::load(dir);
  } catch (const LoadError& e) {
    s.processor_note = std::string("processor defaults (") + e.what() + ")";
  }
  Image square;
  square.width = square.height = 2048;
  square.rgb.assign(size_t(2048) * 2048 * 3, 0);
  s.layout_2048 = image_layout(square, s.processor);

  namespace fs = std::filesystem;
  if (fs::exists(dir / "model.safetensors") || fs::exists(dir / "model.safetensors.index.json")) {
    const SafeTensors st = SafeTensors::open(dir);  // headers only: the data stays mapped, unread
    s.have_weights = true;
    s.weights_source = fs::exists(dir / "model.safetensors")
                           ? std::string("model.safetensors")
                           : "model.safetensors.index.json (" + std::to_string(st.files().size()) + " shards)";
    std::set<std::string> dtypes;
    for (const std::string& name : st.names()) {
      const TensorView& t = st.at(name);
      if (!is_float(t.dtype)) continue;
      s.parameters += uint64_t(t.numel());
      const bool narrow = f32_as_bf16 && t.dtype == TensorDType::F32;
      s.weight_bytes += narrow ? t.bytes / 2 : t.bytes;
      dtypes.insert(narrow ? "BF16" : dtype_name(t.dtype));
    }
    s.weight_dtype = dtypes.size() == 1 ? *dtypes.begin() : "mixed";
  } else {
    s.weights_source = "no weights (no model.safetensors or model.safetensors.index.json)";
    s.parameters = parameter_count(s.config);
    const auto [dtype, size] = config_dtype(s.config);
    const bool narrow = f32_as_bf16 && dtype == "F32";
    s.weight_dtype = narrow ? "BF16" : dtype;
    s.weight_bytes = s.parameters * (narrow ? 2 : size);
  }
  return s;
}

std::string format_summary(const ModelSummary& s) {
  const ModelConfig& c = s.config;
  const ProcessedImage& l = s.layout_2048;
  char buf[512];
  std::string out = "model " + s.dir.string() + "\n";
  std::snprintf(buf, sizeof buf, "  architecture: %s (model_type %s)\n", c.architecture_name.c_str(),
                c.model_type.c_str());
  out += buf;
  std::snprintf(buf, sizeof buf,
                "  vision: hidden %lld, intermediate %lld, %lld layers, %lld heads (head dim %lld), image %lld px,"
                " patch %lld px -> %lldx%lld patches\n",
                (long long)c.vision.hidden_size, (long long)c.vision.intermediate_size,
                (long long)c.vision.num_hidden_layers, (long long)c.vision.num_attention_heads,
                (long long)c.vision.head_dim, (long long)c.vision.image_size, (long long)c.vision.patch_size,
                (long long)c.patches_per_side(), (long long)c.patches_per_side());
  out += buf;
  std::snprintf(buf, sizeof buf, "  connector: pixel shuffle %lld -> %lld tokens per tile, %lld -> %lld\n",
                (long long)c.scale_factor, (long long)c.image_seq_len(),
                (long long)(c.vision.hidden_size * c.scale_factor * c.scale_factor), (long long)c.text.hidden_size);
  out += buf;
  std::snprintf(buf, sizeof buf,
                "  text: hidden %lld, intermediate %lld, %lld layers, %lld heads / %lld kv heads (head dim %lld),"
                " vocab %lld, rope theta %g, context %lld, tied embeddings %s\n",
                (long long)c.text.hidden_size, (long long)c.text.intermediate_size, (long long)c.text.num_hidden_layers,
                (long long)c.text.num_attention_heads, (long long)c.text.num_key_value_heads,
                (long long)c.text.head_dim, (long long)c.text.vocab_size, c.text.rope_theta,
                (long long)c.text.max_position_embeddings, c.tied_embeddings() ? "yes" : "no");
  out += buf;
  std::snprintf(buf, sizeof buf, "  image processor: tile %d px, resize longest edge %d, splitting %s%s%s\n",
                s.processor.max_image_longest_edge, s.processor.longest_edge,
                s.processor.do_image_splitting ? "on" : "off", s.processor_note.empty() ? "" : "; ",
                s.processor_note.c_str());
  out += buf;
  std::snprintf(buf, sizeof buf, "  a 2048x2048 image: %dx%d tiles + global = %d tiles, %lld image tokens\n", l.rows,
                l.cols, l.num_tiles, (long long)(l.num_tiles * c.image_seq_len()));
  out += buf;
  out += "  weights: " + s.weights_source + "\n";
  out += "  parameters: " + thousands(s.parameters) +
         (s.have_weights ? " (safetensors headers)" : " (computed from config.json)") + "\n";
  out += "  device memory for the weights: " + mib(s.weight_bytes) + " (" + thousands(s.weight_bytes) + " bytes) at " +
         s.weight_dtype +
         (s.f32_as_bf16 ? " (--dtype bf16: the checkpoint's f32 tensors kept as bf16)\n"
          : s.have_weights
              ? ", the checkpoint's dtype, which the runtime keeps (--dtype bf16 halves f32 tensors)\n"
              : ", config.json's torch_dtype (the runtime keeps the weight files' own dtype)\n");
  if (s.weight_dtype == "F32")
    out += "  precision: on GPUs with tensor cores the large GEMMs take these f32 weights as f16 (random\n"
           "    SmolVLM2-256M checkpoints on an H200: last logits 1.5e-3 to 8.3e-3 from f32);\n"
           "    SMOLVK_TUNE_SPLIT_F32_WEIGHTS=1 keeps their precision at about +50% image-encode time,\n"
           "    SMOLVK_PORTABLE=1 runs f32 kernels throughout (README: where a tensor-core difference comes from)\n";
  return out;
}

nlohmann::json summary_json(const ModelSummary& s) {
  const ModelConfig& c = s.config;
  const ProcessedImage& l = s.layout_2048;
  return {
      {"dir", s.dir.string()},
      {"architecture", c.architecture_name},
      {"model_type", c.model_type},
      {"vision",
       {{"hidden_size", c.vision.hidden_size},
        {"intermediate_size", c.vision.intermediate_size},
        {"num_hidden_layers", c.vision.num_hidden_layers},
        {"num_attention_heads", c.vision.num_attention_heads},
        {"image_size", c.vision.image_size},
        {"patch_size", c.vision.patch_size},
        {"patches_per_side", c.patches_per_side()}}},
      {"scale_factor", c.scale_factor},
      {"tokens_per_tile", c.image_seq_len()},
      {"text",
       {{"hidden_size", c.text.hidden_size},
        {"intermediate_size", c.text.intermediate_size},
        {"num_hidden_layers", c.text.num_hidden_layers},
        {"num_attention_heads", c.text.num_attention_heads},
        {"num_key_value_heads", c.text.num_key_value_heads},
        {"head_dim", c.text.head_dim},
        {"vocab_size", c.text.vocab_size},
        {"rope_theta", c.text.rope_theta},
        {"max_position_embeddings", c.text.max_position_embeddings},
        {"tied_embeddings", c.tied_embeddings()}}},
      {"image_processor",
       {{"tile", s.processor.max_image_longest_edge},
        {"longest_edge", s.processor.longest_edge},
        {"do_image_splitting", s.processor.do_image_splitting},
        {"note", s.processor_note}}},
      {"image_2048x2048",
       {{"rows", l.rows}, {"cols", l.cols}, {"tiles", l.num_tiles}, {"image_tokens", l.num_tiles * c.image_seq_len()}}},
      {"weights",
       {{"present", s.have_weights},
        {"source", s.weights_source},
        {"parameters", s.parameters},
        {"device_bytes", s.weight_bytes},
        {"dtype", s.weight_dtype}}},
  };
}

}  // namespace smolvk::cli
