#pragma once
// The checkpoint's tensors bound to the model's parameters, every shape checked against the
// config. Plain views into the mapped safetensors files: the SafeTensors must outlive this.
#include <string>
#include <vector>

#include "loader/config.h"
#include "loader/safetensors.h"

namespace smolvk {

struct LinearWeights {
  const TensorView* weight = nullptr;  // [out, in]
  const TensorView* bias = nullptr;    // [out], or nullptr for bias-free layers
};

struct NormWeights {
  const TensorView* weight = nullptr;
  const TensorView* bias = nullptr;  // nullptr for RMSNorm
};

struct VisionLayerWeights {
  LinearWeights q_proj, k_proj, v_proj, out_proj;
  NormWeights layer_norm1, layer_norm2;
  LinearWeights fc1, fc2;
};

struct VisionWeights {
  LinearWeights patch_embedding;                   // weight [hidden, channels, patch, patch]
  const TensorView* position_embedding = nullptr;  // [patches_per_side², hidden]
  std::vector<VisionLayerWeights> layers;
  NormWeights post_layernorm;
};

struct TextLayerWeights {
  LinearWeights q_proj, k_proj, v_proj, o_proj;
  LinearWeights gate_proj, up_proj, down_proj;
  NormWeights input_layernorm, post_attention_layernorm;
};

struct TextWeights {
  const TensorView* embed_tokens = nullptr;  // [vocab, hidden]
  std::vector<TextLayerWeights> layers;
  NormWeights norm;
  const TensorView* lm_head = nullptr;  // [vocab, hidden]; == embed_tokens when tied
  bool lm_head_tied = false;
};

struct WeightSet {
  VisionWeights vision;
  LinearWeights connector_proj;  // modality_projection.proj: [text hidden, vision hidden · s²]
  TextWeights text;
  std::string prefix;  // "model." (transformers 4.x/5.x ForConditionalGeneration) or ""
};

// Throws one LoadError listing every missing, wrongly shaped / typed and unused tensor.
WeightSet map_weights(const ModelConfig& config, const SafeTensors& tensors);

}  // namespace smolvk
