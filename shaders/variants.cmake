# The one table of shader variants: "name|source.comp|DEFINE=1|DEFINE2=..."
# Each name becomes an embedded SPIR-V module that runtime pipelines look up by name.
# Which op file (model/ops/) records which shader, where the names differ:
#   activation.cpp      act.comp
#   embedding.cpp       embed.comp
#   patch_embed.cpp     patch_im2col.comp, posembed.comp (and the matmul shaders)
#   pixel_unshuffle.cpp unshuffle.comp
#   mlp.cpp             mlp_decode.comp
#   attention.cpp, attention_coopmat.cpp  attention*.comp
#   matmul.cpp, matmul_coopmat.cpp        matmul_*.comp
#   runtime/context.cpp coopmat_layout.comp (the fragment-layout probe)
# norm, rope, splice and logits share their op file's name.
set(SMOLVK_SHADER_VARIANTS
  "test_fill|test_fill.comp"
  "test_subgroup|test_subgroup.comp"  # test-only
  "coopmat_layout|coopmat_layout.comp"
  "matmul_vec_f32|matmul_vec.comp|W_F32=1"
  "matmul_vec_sg_f32|matmul_vec.comp|W_F32=1|USE_SUBGROUP=1"
  "matmul_vec_rows_f32|matmul_vec_rows.comp|W_F32=1"
  "matmul_vec_rows_sg_f32|matmul_vec_rows.comp|W_F32=1|USE_SUBGROUP=1"
  "matmul_rows_f32|matmul_rows.comp|W_F32=1"
  "matmul_vec_batch_f32|matmul_vec_batch.comp|W_F32=1"
  "matmul_vec_batch_sg_f32|matmul_vec_batch.comp|W_F32=1|USE_SUBGROUP=1"
  "matmul_tiled_f32|matmul_tiled.comp|W_F32=1"
  "matmul_coopmat_f32|matmul_coopmat.comp|W_F32=1"
  "matmul_coopmat_emu_f32|matmul_coopmat.comp|W_F32=1|EMULATE_COOPMAT=1"  # test-only
  "matmul_coopmat_f32split|matmul_coopmat.comp|W_F32=1|W_SPLIT=1"  # KernelPolicy::split_f32_weights
  "matmul_coopmat_emu_f32split|matmul_coopmat.comp|W_F32=1|W_SPLIT=1|EMULATE_COOPMAT=1"  # test-only
  "matmul_reduce_f32|matmul_reduce.comp|W_F32=1"
  "embed_f32|embed.comp|W_F32=1"
  "matmul_vec_f16|matmul_vec.comp|W_F16=1"
  "matmul_vec_sg_f16|matmul_vec.comp|W_F16=1|USE_SUBGROUP=1"
  "matmul_vec_rows_f16|matmul_vec_rows.comp|W_F16=1"
  "matmul_vec_rows_sg_f16|matmul_vec_rows.comp|W_F16=1|USE_SUBGROUP=1"
  "matmul_rows_f16|matmul_rows.comp|W_F16=1"
  "matmul_vec_batch_f16|matmul_vec_batch.comp|W_F16=1"
  "matmul_vec_batch_sg_f16|matmul_vec_batch.comp|W_F16=1|USE_SUBGROUP=1"
  "matmul_tiled_f16|matmul_tiled.comp|W_F16=1"
  "matmul_coopmat_f16|matmul_coopmat.comp|W_F16=1"
  "matmul_coopmat_abl_f16|matmul_coopmat.comp|W_F16=1|ABLATE=1"  # profiling only (KernelPolicy::gemm_ablate)
  "matmul_coopmat_emu_f16|matmul_coopmat.comp|W_F16=1|EMULATE_COOPMAT=1"  # test-only
  "matmul_reduce_f16|matmul_reduce.comp|W_F16=1"
  "embed_f16|embed.comp|W_F16=1"
  "matmul_vec_bf16|matmul_vec.comp|W_BF16=1"
  "matmul_vec_sg_bf16|matmul_vec.comp|W_BF16=1|USE_SUBGROUP=1"
  "matmul_vec_rows_bf16|matmul_vec_rows.comp|W_BF16=1"
  "matmul_vec_rows_sg_bf16|matmul_vec_rows.comp|W_BF16=1|USE_SUBGROUP=1"
  "matmul_rows_bf16|matmul_rows.comp|W_BF16=1"
  "matmul_vec_batch_bf16|matmul_vec_batch.comp|W_BF16=1"
  "matmul_vec_batch_sg_bf16|matmul_vec_batch.comp|W_BF16=1|USE_SUBGROUP=1"
  "matmul_tiled_bf16|matmul_tiled.comp|W_BF16=1"
  "matmul_coopmat_bf16|matmul_coopmat.comp|W_BF16=1"
  "matmul_coopmat_emu_bf16|matmul_coopmat.comp|W_BF16=1|EMULATE_COOPMAT=1"  # test-only
  "matmul_reduce_bf16|matmul_reduce.comp|W_BF16=1"
  "embed_bf16|embed.comp|W_BF16=1"
  # norms, activations, vision/connector glue, logits
  "norm_rms_f32|norm.comp"
  "norm_rms_f32_sg|norm.comp|SUBGROUP=1"
  "norm_rms_f16|norm.comp|WEIGHT_F16=1"
  "norm_rms_f16_sg|norm.comp|WEIGHT_F16=1|SUBGROUP=1"
  "norm_rms_bf16|norm.comp|WEIGHT_BF16=1"
  "norm_rms_bf16_sg|norm.comp|WEIGHT_BF16=1|SUBGROUP=1"
  "norm_ln_f32|norm.comp|LAYERNORM=1"
  "norm_ln_f32_sg|norm.comp|LAYERNORM=1|SUBGROUP=1"
  "norm_ln_f16|norm.comp|LAYERNORM=1|WEIGHT_F16=1"
  "norm_ln_f16_sg|norm.comp|LAYERNORM=1|WEIGHT_F16=1|SUBGROUP=1"
  "norm_ln_bf16|norm.comp|LAYERNORM=1|WEIGHT_BF16=1"
  "norm_ln_bf16_sg|norm.comp|LAYERNORM=1|WEIGHT_BF16=1|SUBGROUP=1"
  "act_gelu|act.comp|OP_GELU=1"
  "act_gelu_f16|act.comp|OP_GELU=1|HALF=1"
  "act_swiglu|act.comp|OP_SWIGLU=1"
  "act_swiglu_f16|act.comp|OP_SWIGLU=1|OUT_HALF=1"
  "act_add|act.comp|OP_ADD=1"
  "patch_im2col|patch_im2col.comp"
  "patch_im2col_u8|patch_im2col.comp|PIXEL_BYTES=1"
  "posembed_f32|posembed.comp"
  "posembed_f16|posembed.comp|WEIGHT_F16=1"
  "posembed_bf16|posembed.comp|WEIGHT_BF16=1"
  "unshuffle|unshuffle.comp"
  "splice|splice.comp"
  "logits_argmax|logits_argmax.comp"
  "logits_argmax_sg|logits_argmax.comp|SUBGROUP=1"
  "logits_sample|logits_sample.comp"
  "logits_sample_sg|logits_sample.comp|SUBGROUP=1"
  # RoPE and attention
  "rope_inplace|rope.comp"
  "rope_qkv|rope.comp|QKV_WRITE=1"
  "attention_decoder|attention.comp"
  "attention_encoder|attention.comp|ENCODER=1"
  "attention_combine|attention_combine.comp"
  "attention_decode|attention_decode.comp"
  "attention_decode_oproj_f32|attention_decode.comp|OPROJ=1|W_F32=1"
  "attention_decode_oproj_f16|attention_decode.comp|OPROJ=1|W_F16=1"
  "attention_decode_oproj_bf16|attention_decode.comp|OPROJ=1|W_BF16=1"
  "mlp_decode_f32|mlp_decode.comp|W_F32=1"
  "mlp_decode_f16|mlp_decode.comp|W_F16=1"
  "mlp_decode_bf16|mlp_decode.comp|W_BF16=1"
  # tensor-core attention
  "attention_coopmat|attention_coopmat.comp"
  "attention_flash|attention_flash.comp"
  "attention_coopmat_emu|attention_coopmat.comp|EMULATE_COOPMAT=1"  # test-only
  "attention_coopmat_dec|attention_coopmat.comp|DECODER=1"
  "attention_coopmat_dec_emu|attention_coopmat.comp|DECODER=1|EMULATE_COOPMAT=1"  # test-only
)

# Built only with SMOLVK_GLSLANG_NV2 (glslang >= 15): GL_NV_cooperative_matrix2.
set(SMOLVK_SHADER_VARIANTS_NV2
  "matmul_coopmat2_f16|matmul_coopmat2.comp"
  "matmul_coopmat_khr_f16|matmul_coopmat.comp|W_F16=1|KHR_COOPMAT=1"
)
