#!/usr/bin/env python3
"""A SmolVLM checkpoint folder of a published model's shapes with random weights, written by
transformers, for benchmarks that need a folder (smolvk-serve, tools/bench/serve_bench.py).
The tokenizer, chat template and generation config come from a small checkpoint (default
examples/demo-model: a 552-token tokenizer); the vocabulary rows past it are never used.

  tools/bench/make_random_checkpoint.py --out /tmp/smolvlm-256m-random [--shape 256m|500m|smolvlm2-2.2b]
      [--dtype bf16|f32]

--dtype f32 writes the tensors in float32, as SmolVLM2-2.2B-Instruct is published (smolvk's
--dtype bf16 then keeps them as bf16).

Needs torch and transformers (the GPU machine has them)."""
import argparse
import json
import os
import shutil

# The decoder and vision sizes of the published checkpoints (tests/data/configs, or the
# published config.json of SmolVLM-256M/500M-Instruct).
SHAPES = {
    "256m": dict(text=dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                           num_key_value_heads=3, head_dim=64, vocab_size=49280),
                 vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                             image_size=512, patch_size=16),
                 scale_factor=4),
    "500m": dict(text=dict(hidden_size=960, intermediate_size=2560, num_hidden_layers=32, num_attention_heads=15,
                           num_key_value_heads=5, head_dim=64, vocab_size=49280),
                 vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                             image_size=512, patch_size=16),
                 scale_factor=4),
    # SmolVLM2-2.2B-Instruct: SigLIP-so400m at 384 px (27 x 27 patches, 81 tokens a tile at scale 3).
    "smolvlm2-2.2b": dict(text=dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                                    num_attention_heads=32, num_key_value_heads=32, head_dim=64, vocab_size=49280),
                          vision=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                                      num_attention_heads=16, image_size=384, patch_size=14),
                          scale_factor=3),
}


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", default="256m", choices=sorted(SHAPES))
    ap.add_argument("--like", default=os.path.join(root, "examples", "demo-model"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"], help="the stored tensors' dtype")
    ap.add_argument("--resize-edge", type=int, default=0,
                    help="the processor's resize longest edge (default 4 tiles, as published; the tile side "
                         "gives one tile per image)")
    a = ap.parse_args()

    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    shape = SHAPES[a.shape]
    cfg = AutoConfig.from_pretrained(a.like)
    for k, v in shape["text"].items():
        setattr(cfg.text_config, k, v)
    for k, v in shape["vision"].items():
        setattr(cfg.vision_config, k, v)
    cfg.scale_factor = shape["scale_factor"]
    torch.manual_seed(a.seed)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    model = AutoModelForImageTextToText.from_config(cfg, torch_dtype=dtype)
    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out)
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "chat_template.json",
              "generation_config.json"):
        if os.path.exists(os.path.join(a.like, f)):
            shutil.copy(os.path.join(a.like, f), os.path.join(a.out, f))
    # The processor of the published model: 512-pixel tiles, images resized to 2048 at most.
    tile = shape["vision"]["image_size"]
    with open(os.path.join(a.like, "processor_config.json")) as f:
        proc = json.load(f)
    proc["image_processor"]["max_image_size"] = {"longest_edge": tile}
    proc["image_processor"]["size"] = {"longest_edge": a.resize_edge or 4 * tile}
    proc["image_seq_len"] = (tile // shape["vision"]["patch_size"]) ** 2 // shape["scale_factor"] ** 2
    with open(os.path.join(a.out, "processor_config.json"), "w") as f:
        json.dump(proc, f, indent=2)
    n = sum(p.numel() for p in model.parameters())
    print(f"{a.out}: {a.shape} shapes, {n / 1e6:.1f} M parameters, {a.dtype}")


if __name__ == "__main__":
    main()
