// Model::random: any configuration with random weights and a byte-level tokenizer, built in
// memory (no files) for benchmarks and tests.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "loader/tokenizer_bytelevel.h"
#include "model/model_impl.h"
#include "model/ops/kernel_policy.h"
#include "model/ops/matmul_ref.h"

namespace smolvk {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Writes weights straight into DeviceWeights in the shapes upload_weights() gives a real
// checkpoint. Values are uniform with the requested mean and standard deviation (a uniform
// is as good as a normal for timing and fast enough for 2.2B parameters). Tensors are filled
// in chunks seeded from (seed, tensor, chunk), so the values do not depend on the thread count.
class RandomWeights {
 public:
  RandomWeights(Context& ctx, DType dtype, uint64_t seed, DeviceWeights& out)
      : ctx_(ctx), dtype_(dtype), seed_(seed), out_(out) {}

  DeviceTensor tensor(std::vector<int64_t> shape, float mean, float std) {
    return tensor_as(dtype_, std::move(shape), mean, std);
  }
  // With `pad`, the values are drawn for `shape` and then its heads padded, as upload_weights
  // pads a checkpoint's.
  DeviceTensor tensor_as(DType dtype, std::vector<int64_t> shape, float mean, float std,
                         const HeadPadding* pad = nullptr) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<uint8_t> host(size_t(n) * dtype_size(dtype));
    fill(host.data(), n, mean, std, tensor_index_++, dtype);
    if (pad) host = pad_heads(host.data(), dtype_size(dtype), shape, *pad, "random vision attention weight");
    DeviceTensor t{upload_vector(ctx_, host), dtype, std::move(shape)};
    out_.parameters += uint64_t(n);
    out_.bytes += host.size();
    return t;
  }
  DeviceTensor linear(int64_t out, int64_t in) { return tensor({out, in}, 0.0f, 1.0f / std::sqrt(float(in))); }
  DeviceTensor bias(int64_t n) { return tensor({n}, 0.0f, 0.02f); }
  // A tensor-core GEMM's weight and bias, in `gemm` for a bf16 model, as upload_weights stores
  // a checkpoint's.
  DeviceTensor gemm_linear(std::optional<DType> gemm, int64_t out, int64_t in, const HeadPadding* pad = nullptr) {
    return tensor_as(gemm_dtype(gemm), {out, in}, 0.0f, 1.0f / std::sqrt(float(in)), pad);
  }
  DeviceTensor gemm_bias(std::optional<DType> gemm, int64_t n, const HeadPadding* pad = nullptr) {
    return tensor_as(gemm_dtype(gemm), {n}, 0.0f, 0.02f, pad);
  }
  DeviceTensor norm_weight(int64_t n) { return tensor({n}, 1.0f, 0.02f); }

 private:
  static constexpr int64_t kChunk = 1 << 20;

  DType gemm_dtype(std::optional<DType> gemm) const { return gemm && dtype_ == DType::BF16 ? *gemm : dtype_; }

  void fill(uint8_t* dst, int64_t n, float mean, float std, uint64_t tensor, DType dtype) const {
    const float half_width = std::sqrt(3.0f) * std;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    auto work = [&](int64_t first, int64_t step) {
      for (int64_t c = first; c < chunks; c += step) {
        uint64_t state = seed_ ^ (tensor << 32) ^ uint64_t(c) * 0xD1B54A32D192ED03ull;
        const int64_t end = std::min(n, (c + 1) * kChunk);
        for (int64_t i = c * kChunk; i < end; ++i) {
          const float u = float(splitmix64(state) >> 40) * 0x1p-24f;  // [0, 1)
          store(dst, i, mean + half_width * (2.0f * u - 1.0f), dtype);
        }
      }
    };
    const int64_t threads = std::min<int64_t>(chunks, std::max(1u, std::thread::hardware_concurrency()));
    if (threads <= 1) return work(0, 1);
    std::vector<std::thread> pool;
    for (int64_t t = 0; t < threads; ++t) pool.emplace_back(work, t, threads);
    for (auto& t : pool) t.join();
  }

  static void store(uint8_t* dst, int64_t i, float v, DType dtype) {
    if (dtype == DType::F32) {
      std::memcpy(dst + i * 4, &v, 4);
      return;
    }
    const uint16_t h = dtype == DType::F16 ? ops::f32_to_f16(v) : ops::f32_to_bf16(v);
    std::memcpy(dst + i * 2, &h, 2);
  }

  Context& ctx_;
  DType dtype_;
  uint64_t seed_;
  DeviceWeights& out_;
  uint64_t tensor_index_ = 0;
};

DeviceWeights random_weights(Context& ctx, const ModelConfig& c, DType dtype, uint64_t seed) {
  DeviceWeights d;
  RandomWeights r(ctx, dtype, seed, d);
  const std::optional<DType> gemm = ops::tensor_core_weight_dtype(ctx.caps());
  const auto& v = c.vision;
  const int64_t H = v.hidden_size, patch_in = v.num_channels * v.patch_size * v.patch_size;
  d.patch_w = r.gemm_linear(gemm, H, patch_in);
  d.patch_b = r.gemm_bias(gemm, H);
  d.position_embedding = r.tensor({v.num_patches(), H}, 0.0f, 0.02f);
  d.vision_head_dim = ops::vision_attention_head_dim(ctx.caps(), v.head_dim);
  const HeadPadding rows_pad{0, v.head_dim, d.vision_head_dim}, cols_pad{1, v.head_dim, d.vision_head_dim};
  const bool padded = d.vision_head_dim != v.head_dim;
  for (int64_t i = 0; i < v.num_hidden_layers; ++i) {
    DeviceVisionLayer l;
    l.ln1_w = r.norm_weight(H);
    l.ln1_b = r.bias(H);
    l.qkv_w = r.gemm_linear(gemm, 3 * H, H, padded ? &rows_pad : nullptr);
    l.qkv_b = r.gemm_bias(gemm, 3 * H, padded ? &rows_pad : nullptr);
    l.out_w = r.gemm_linear(gemm, H, H, padded ? &cols_pad : nullptr);
    l.out_b = r.gemm_bias(gemm, H);
    l.ln2_w = r.norm_weight(H);
    l.ln2_b = r.bias(H);
    l.fc1_w = r.gemm_linear(gemm, v.intermediate_size, H);
    l.fc1_b = r.gemm_bias(gemm, v.intermediate_size);
    l.fc2_w = r.gemm_linear(gemm, H, v.intermediate_size);
    l.fc2_b = r.gemm_bias(gemm, H);
    d.vision.push_back(std::move(l));
  }
  d.post_ln_w = r.norm_weight(H);
  d.post_ln_b = r.bias(H);
  const int64_t connector_in = H * c.scale_factor * c.scale_factor;
  d.connector_w = r.gemm_linear(gemm, c.text.hidden_size, connector_in);

  const auto& t = c.text;
  const int64_t D = t.hidden_size, q = t.num_attention_heads * t.head_dim, kv = t.num_key_value_heads * t.head_dim;
  d.embed_tokens = r.tensor({t.vocab_size, D}, 0.0f, 1.0f);
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
    DeviceTextLayer l;
    l.input_norm = r.norm_weight(D);
    l.qkv_w = r.linear(q + 2 * kv, D);
    l.o_w = r.linear(D, q);
    l.post_norm = r.norm_weight(D);
    l.gate_up_w = r.linear(2 * t.intermediate_size, D);
    l.down_w = r.linear(D, t.intermediate_size);
    d.text.push_back(std::move(l));
  }
  d.final_norm = r.norm_weight(D);
  d.lm_head = c.tied_embeddings() ? d.embed_tokens : r.linear(t.vocab_size, D);
  return d;
}

struct SpecialIds {
  int32_t end_of_text = 0, im_end = 0, end_of_utterance = 0;
};

// Byte-level BPE without merges: every byte is one token. The special tokens SmolVLM prompts
// use get the free ids around them; `<image>` keeps the config's image_token_id.
Tokenizer byte_tokenizer(const ModelConfig& c, SpecialIds& ids) {
  const int64_t image_id = c.image_token_id;
  std::vector<int32_t> free_ids;
  for (int64_t id = 0; id < c.text.vocab_size && free_ids.size() < 262; ++id)
    if (id != image_id) free_ids.push_back(int32_t(id));
  if (free_ids.size() < 262)
    throw std::invalid_argument("random model: text_config.vocab_size " + std::to_string(c.text.vocab_size) +
                                " is too small for the byte-level tokenizer (needs at least 263 ids)");
  size_t next = 0;
  nlohmann::json added = nlohmann::json::array();
  auto special = [&](const std::string& content, int32_t id) {
    added.push_back({{"id", id},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
    return id;
  };
  ids.end_of_text = special("<|endoftext|>", free_ids[next++]);
  special("<|im_start|>", free_ids[next++]);
  ids.im_end = special("<|im_end|>", free_ids[next++]);
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) {
    std::string token;
    bytelevel::append_mapped(token, std::string(1, char(b)));
    vocab[token] = free_ids[next++];
  }
  special("<fake_token_around_image>", free_ids[next++]);
  special("<global-img>", free_ids[next++]);
  ids.end_of_utterance = special(std::string(kEndOfUtterance), free_ids[next++]);
  special("<image>", int32_t(image_id));
  const nlohmann::json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  const nlohmann::json tok = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", nullptr},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"vocab", vocab},
        {"merges", nlohmann::json::array()}}},
  };
  return Tokenizer::from_json(tok.dump(), "random model tokenizer");
}

}  // namespace

std::unique_ptr<Model> Model::random(Context& ctx, const ModelConfig& config, DType weight_dtype, uint64_t seed) {
  if (weight_dtype != DType::F32 && weight_dtype != DType::F16 && weight_dtype != DType::BF16)
    throw std::invalid_argument("random model: weight dtype " + std::string(dtype_name(weight_dtype)) +
                                " is not f32, f16 or bf16");
  SpecialIds ids;
  auto impl = std::make_unique<Impl>(ctx, Checkpoint{{}, config, byte_tokenizer(config, ids), {}, {}, {}, {}, {}});
  Impl& I = *impl;
  const int image = int(config.vision.image_size);
  I.processor.max_image_longest_edge = image;
  I.processor.longest_edge = 4 * image;
  I.processor.image_seq_len = int(config.image_seq_len());
  I.generation.eos_token_ids = {ids.end_of_utterance};
  I.generation.bos_token_id = ids.end_of_text;
  I.generation.pad_token_id = ids.im_end;
  I.stop_ids = {ids.end_of_utterance};
  I.weights = random_weights(ctx, config, weight_dtype, seed);
  return std::unique_ptr<Model>(new Model(std::move(impl)));
}

}  // namespace smolvk
