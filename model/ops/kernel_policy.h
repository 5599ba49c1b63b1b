#pragma once
// The kernel policy: every kernel choice that is a tuning decision rather than a capability
// (fusion thresholds, tile shapes, storage dtypes, split sizes) in one table, keyed by device
// class (kernel_policy.cpp), with the SMOLVK_TUNE_<NAME> overrides (ContextOptions::tuning) applied on top. The
// graphs state the math; the ops and the fusion pass (model/ops/op_list.h) read this.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/ops/common.h"
#include "runtime/capabilities.h"

namespace smolvk::ops {

struct KernelPolicy {
  std::string device_class;  // the table row it came from: "nvidia", "default"
  // Decoder steps (rows = batch × new tokens).
  // RMSNorm, SwiGLU, RoPE + cache write folded into mat-vecs, and plain mat-vecs on the fused
  // kernel (16-byte loads, a subgroup per column), up to this many rows; more rows run the
  // several-row kernels and separate norm / SwiGLU dispatches (faster there on the H100:
  // batch 8 2.65 vs 3.43 ms per decode step, batch 32 6.45 vs 12.2).
  uint32_t fuse_matvec_max_rows = 2;
  uint32_t mlp_decode_max_rows = 2;      // the one-dispatch MLP block (needs float atomics)
  uint32_t fold_o_proj = 1;              // a one-split decode step's attention applies o_proj too
  // ... when o_proj's weight is at most this many KiB: each head's share is read by its own
  // workgroup, far from the bandwidth a mat-vec reaches on a large matrix (Idefics3-8B's 32 MiB
  // o_proj: 155 µs a layer in the attention kernel at 228 GB/s on the H200; SmolVLM-256M's
  // 0.6 MiB one gains a dispatch).
  uint32_t fold_o_proj_max_kib = 4096;
  uint32_t rows_kernel_min_rows = 17;    // matmul_rows.comp from here to kMatVecMaxRows rows
  uint32_t coopmat_min_rows = 32;        // tensor-core GEMM from here (up to kMatVecMaxRows too; NVIDIA: 8)
  uint32_t rows_cols_per_thread = 0;     // matmul_rows.comp columns per thread; 0 = by width
  uint32_t matvec_workgroup = 128;       // invocations of the subgroup mat-vec (NVIDIA: 256)
  // matmul_vec_batch.comp for plain matmuls of fuse_matvec_max_rows < rows <= this (0 = never),
  // ahead of the several-row kernels and the tensor cores: batched decode read at the weight
  // stream's speed (a lane group per C columns, X staged in shared memory). NVIDIA: 8.
  uint32_t vec_batch_max_rows = 0;
  // ... for weights of at least this many MiB and rows of at least vec_batch_min_k values. On
  // the H200 at 8 rows it beat the tensor-core GEMM on Idefics3-8B's gate_up (224 MiB: 236
  // against 259 µs) and down (112 MiB: 115 against 154), but SmolVLM2-2.2B's step was slower
  // with its K = 2048 weights of 64 MiB and more on it (6.55 against 6.03 ms with none). With
  // this rule (session 13's was 64 MiB, any K), same run: Idefics3-8B batch 8 16.91 -> 15.69
  // ms/step (every weight on it), SmolVLM2-2.2B 6.57 -> 5.62 (down_proj only); SmolVLM-256M
  // has no weight with K >= 4096 and none over 64 MiB, so neither rule changes its kernels.
  uint32_t vec_batch_min_weight_mib = 32;
  uint32_t vec_batch_min_k = 4096;
  // Its shape, 0 = by dtype and shape (model/ops/matmul.cpp): columns per lane group, invocations
  // per workgroup, K chunk staged, weight units of 8 loaded ahead per lane and column.
  uint32_t vec_batch_cols = 0, vec_batch_workgroup = 0, vec_batch_kc = 0, vec_batch_units = 0;
  uint32_t decode_split_min_keys = 128;  // flash-decoding: fewest keys per split
  // Any GEMM.
  uint32_t fuse_linear_gelu = 1;  // GELU applied in the GEMM epilogue (vision fc1), not a separate pass
  // Vision encoder.
  uint32_t half_activations = 1;  // GEMM/attention-only activations in f16 (tensor cores)
  // The text prefill's GEMM inputs in f16 (tensor_core_gemm_input_dtype) only where the hidden
  // width's GEMMs have at least this many 128 x 128 output tiles: on the H200 SmolVLM2-2.2B's
  // 1,073-token prefill (144 tiles) took 42.5 ms against 57.5 with f32 inputs, SmolVLM-256M's
  // 1,108 tokens (45 tiles) 9.0 against 7.0 (the f16-X GEMM's larger tile splits K there).
  uint32_t half_gemm_inputs_min_tiles = 128;
  uint32_t f16_weights = 1;       // tensor-core GEMM weights converted to f16 at load
  // f32 weights into the tensor-core GEMM as two f16 halves, hi + lo (matmul_coopmat_f32split:
  // twice the products), not rounded to f16: f32 checkpoints (SmolVLM2's) keep their weights'
  // precision (a GEMM's difference from f64: 1.4e-4 -> 2.7e-7). Off by default: on the H200
  // with f32 weights it took the 17-tile encode from 48.9 to 74.9 ms and SmolVLM2-2.2B's 13-tile
  // first token from 188 to 290 ms, for logits 1.45e-3 -> 6.2e-4 from transformers' on an image
  // request and none on a video prompt's decoder (4.2e-3, 5.9e-3 with it: its activations'
  // f16 rounding dominates there). 0 = rounded to f16.
  uint32_t split_f32_weights = 0;
  uint32_t attention_flash = 1;   // attention_flash.comp where the probed layout allows it
  uint32_t flash_subgroups = 8, flash_keys = 64;
  // 16-row query fragments per subgroup of attention_flash.comp: 2 (32 rows, 32-key blocks
  // at D = 64 in 48 KiB) took the H200's 17-tile vision attention from 5.38 to 4.74 ms.
  uint32_t flash_row_frags = 2;
  // Vision heads padded with zero rows/columns to the next multiple of 16 (vision_attention_head_dim):
  // 0 = never, 1 = where that moves the attention onto tensor cores, 2 = always (tests).
  uint32_t pad_vision_heads = 1;
  // Tensor-core GEMM tile for large M; 0 = the kernel's choice by shape.
  uint32_t gemm_bm = 0, gemm_bn = 0, gemm_bk = 0, gemm_wm = 0, gemm_wn = 0, gemm_stages = 0, gemm_slots = 0;
  uint32_t vision_chunk_tiles = 0;  // tiles per encoder pass; 0 = by a 512 MiB activation budget
  // Split-K for the tensor-core GEMM: a grid of fewer output tiles than gemm_split_groups (0 =
  // never) splits K over workgroups, each at least gemm_split_min_slices K slices, their partial
  // sums added in order by a second pass (deterministic). A decode step at batch 32 has 18–96
  // tiles per GEMM, each walking all of K (down_proj: 48 slices, 49 µs on the H200).
  uint32_t gemm_split_groups = 264, gemm_split_min_slices = 4;
  // The tensor-core GEMM reads SwiGLU's gate|up itself, and a split GEMM's reduce pass writes
  // the next RMSNorm (op_list.h): 30 + 60 fewer dispatches in a decoder pass.
  uint32_t fuse_gemm_inputs = 1;
  // Profiling only: the f16-weight tensor-core GEMM runs matmul_coopmat_abl_f16, its main loop
  // without part of its work (matmul_coopmat.comp's ABL: 1 no global loads after the first
  // slice, 2 nor shared stores, 3 only the products). Wrong results by design; 0 = off.
  uint32_t gemm_ablate = 0;
  // matmul_coopmat2.comp (VK_NV_cooperative_matrix2; where caps.use_coopmat2, an opt-in) for
  // the GEMMs of more than kMatVecMaxRows rows with f16 X and f16 W (the vision encoder's): 0 =
  // never. Its workgroup and BM x BN tile walked in BK slices (the H200's best of 16 tried:
  // 100-135 TFLOP/s on the vision GEMMs).
  uint32_t coopmat2 = 1;
  uint32_t cm2_workgroup = 128, cm2_bm = 128, cm2_bn = 128, cm2_bk = 32;
  // Under the same opt-in: the f16-weight tensor-core GEMM built on VK_KHR_cooperative_matrix
  // (matmul_coopmat_khr_f16) in place of VK_NV_cooperative_matrix; 0 = NV.
  uint32_t coopmat_khr = 0;
  // Test-only (no SMOLVK_TUNE_ name): the decoder's linears from coopmat_min_rows rows run the
  // tensor-core GEMM emulated (MatmulOptions::emulate_coopmat), and its fusions with them, on
  // any device: CI's lavapipe checks those fusions against the unfused ops.
  bool emulate_tensor_cores = false;

  // One line per setting: "name = value (class default | SMOLVK_TUNE_NAME)".
  std::vector<std::string> describe() const;
};

// Whether the batched mat-vec (vec_batch_max_rows) may take a matmul over a weight of
// `weight_bytes` with rows of `k` values: at least vec_batch_min_weight_mib and vec_batch_min_k.
bool vec_batch_weight(const KernelPolicy& p, uint64_t weight_bytes, uint64_t k);

// The policy for this device: its class's row of the table, then caps.tuning. Throws
// std::invalid_argument naming an override that is not a setting.
KernelPolicy kernel_policy(const Capabilities& caps);

// The dtype of activations that only feed the tensor-core GEMM and attention (the vision
// encoder's LayerNorm outputs, fused qkv, attention output and GELU(fc1)) for `rows` token
// rows of `width` features in heads of `head_dim`: f16 where both kernels run on tensor cores
// for these shapes — they round their inputs to f16 anyway, so the result is the same and
// half the bytes move — else f32 (and where the policy's half_activations is 0).
DType tensor_core_activation_dtype(const Capabilities& caps, int64_t rows, int64_t width, int64_t head_dim);

// The head dim the vision encoder's attention runs at for the checkpoint's `head_dim`: itself,
// or the next multiple of 16 where the tensor-core attention takes that and not head_dim
// (SigLIP-so400m's 72 → 80; the policy's pad_vision_heads). upload_weights then lays q, k, v
// (weights and biases) out with zero rows after each head's and out_proj with zero columns, so
// the padded q·k and p·v gain only zero products and out_proj reads nothing from the padding;
// the softmax scale stays 1/√head_dim.
int64_t vision_attention_head_dim(const Capabilities& caps, int64_t head_dim);

// The dtype of the text decoder's GEMM inputs that feed nothing else (the normed inputs of
// qkv_proj and gate_up_proj, the SwiGLU output) for a pass of `rows` token rows of `width`
// (the hidden size): f16 where those GEMMs run on tensor cores, which round X to f16 anyway
// (the same products at half the bytes, and the GEMM's f16-X tile), and the pass is large
// enough for that tile (the policy's half_gemm_inputs_min_tiles); else f32 (decode steps,
// small prefills, devices without tensor cores, the policy's half_activations = 0).
DType tensor_core_gemm_input_dtype(const Capabilities& caps, int64_t rows, int64_t width);

// The dtype the vision encoder's and connector's GEMM weights (and their biases; the patch
// embedding's too) are stored
// in on a device whose big GEMMs run on tensor cores: f16, what the kernel narrows every
// weight to on its way into the tensor cores. Converting once at load (bf16_to_f16_in_range)
// gives the same products without the per-slice conversion; a bf16 tensor with a value
// beyond f16's range stays bf16. Nullopt: keep the checkpoint's dtype (no tensor cores, or
// the policy's f16_weights = 0).
std::optional<DType> tensor_core_weight_dtype(const Capabilities& caps);

// bf16 values as f16 (round to nearest even, as the GPU narrows: exact for |x| in
// [2^-14, 65504], subnormal below). False, with dst partly written, if a value is not finite
// or beyond 65504. src and dst may be the same array.
bool bf16_to_f16_in_range(const uint16_t* src, size_t n, uint16_t* dst);

}  // namespace smolvk::ops
