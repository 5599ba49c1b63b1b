"""Builds a random SmolVLM/Idefics3 checkpoint with transformers and saves it in HF layout."""
import glob
import json
import math
import os

import torch
from torch import nn

from hf_env import config_class, model_class


def make_config(arch, spec, vocab_size, image_token_id, pad_id, bos_id, eos_id):
    t, v = spec["text"], spec["vision"]
    text = dict(
        model_type="llama",
        vocab_size=vocab_size,
        hidden_size=t["hidden"],
        intermediate_size=t["inter"],
        num_hidden_layers=t["layers"],
        num_attention_heads=t["heads"],
        num_key_value_heads=t["kv"],
        head_dim=t["hidden"] // t["heads"],
        max_position_embeddings=t.get("max_pos", 8192),
        rms_norm_eps=t.get("eps", 1e-5),
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=spec["tied"],
        pad_token_id=pad_id,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        rope_parameters=dict(t.get("rope_scaling") or {"rope_type": "default"},
                             rope_theta=float(t["rope_theta"])),
    )
    vision = dict(
        hidden_size=v["hidden"],
        intermediate_size=v["inter"],
        num_hidden_layers=v["layers"],
        num_attention_heads=v["heads"],
        num_channels=3,
        image_size=v["image"],
        patch_size=v["patch"],
        layer_norm_eps=v.get("eps", 1e-6),
        hidden_act="gelu_pytorch_tanh",
    )
    cfg = config_class(arch)(
        text_config=text,
        vision_config=vision,
        scale_factor=spec["scale"],
        image_token_id=image_token_id,
        tie_word_embeddings=spec["tied"],
        pad_token_id=pad_id,
    )
    theta = rope_theta_of(cfg.text_config)
    if theta != float(t["rope_theta"]):
        # Older constructor: fall back to the legacy keywords.
        text.pop("rope_parameters")
        text["rope_theta"] = float(t["rope_theta"])
        if t.get("rope_scaling"):
            text["rope_scaling"] = dict(t["rope_scaling"])
        cfg = config_class(arch)(
            text_config=text,
            vision_config=vision,
            scale_factor=spec["scale"],
            image_token_id=image_token_id,
            tie_word_embeddings=spec["tied"],
            pad_token_id=pad_id,
        )
    return cfg


def rope_theta_of(text_cfg):
    rp = getattr(text_cfg, "rope_parameters", None)
    if isinstance(rp, dict) and "rope_theta" in rp:
        return float(rp["rope_theta"])
    return float(getattr(text_cfg, "rope_theta", float("nan")))


def rope_scaling_of(text_cfg):
    """The RoPE type and its parameters as the loaded config holds them (5.x rope_parameters,
    else 4.x rope_scaling); {"rope_type": "default"} when there are none."""
    rp = getattr(text_cfg, "rope_parameters", None)
    if not isinstance(rp, dict) or not rp:
        rp = getattr(text_cfg, "rope_scaling", None)
    if not isinstance(rp, dict) or not rp:
        return {"rope_type": "default"}
    out = {k: v for k, v in rp.items() if k != "rope_theta"}
    if "rope_type" not in out:
        out["rope_type"] = out.pop("type", "default")
    out.pop("type", None)
    return out


def rope_scaling_matches(text_cfg, spec_text):
    """True when the loaded config's RoPE type and parameters are the case's."""
    want = dict(spec_text.get("rope_scaling") or {"rope_type": "default"})
    got = rope_scaling_of(text_cfg)
    if got.get("rope_type") != want.get("rope_type"):
        return False
    for k, v in want.items():
        if k != "rope_type" and (k not in got or float(got[k]) != float(v)):
            return False
    return True


def is_tied(model):
    emb = model.get_input_embeddings().weight
    return model.lm_head.weight.data_ptr() == emb.data_ptr()


@torch.no_grad()
def reinit(model, seed, device="cpu", head_row_sigma=0.0):
    """Scaled-up random init so greedy tokens have clear top-1 margins. device: where the
    model's parameters are and the generator draws (CPU: the committed cases' values; CUDA:
    the full-size cases built on the GPU, whose values differ for the same seed).
    head_row_sigma > 0 (an untied lm_head only): each lm_head row scaled by exp(sigma * z), z
    normal, drawn after everything else: row norms spread log-normally, so the top logits stand
    apart as a trained model's do, where equal-norm rows leave near-ties between the top two
    (a 49k vocabulary over a long prompt: top-1 margins of 1% of the largest logit)."""
    if str(device) == "cpu":
        g = torch.Generator().manual_seed(seed)

        def normal_(p, mean, std):
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32).mul_(std).add_(mean))
    else:
        g = torch.Generator(device=device).manual_seed(seed)

        def normal_(p, mean, std):
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32, device=device)
                    .mul_(std).add_(mean))

    tied = is_tied(model)
    for name, m in model.named_modules():
        if tied and m is model.lm_head:
            continue
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_in = m.weight[0].numel()
            normal_(m.weight, 0.0, 1.5 / math.sqrt(fan_in))
            if m.bias is not None:
                normal_(m.bias, 0.0, 0.1)
        elif isinstance(m, nn.Embedding):
            normal_(m.weight, 0.0, 1.0)
        elif isinstance(m, nn.LayerNorm) or type(m).__name__.endswith("RMSNorm"):
            if getattr(m, "weight", None) is not None:
                normal_(m.weight, 1.0, 0.1)
            if getattr(m, "bias", None) is not None:
                normal_(m.bias, 0.0, 0.1)
    if tied != is_tied(model):
        raise RuntimeError("reinit broke weight tying")
    if head_row_sigma:
        if tied:
            raise ValueError("head_row_sigma needs an untied lm_head (it would scale the embeddings too)")
        w = model.lm_head.weight
        z = torch.empty(w.shape[0], 1, dtype=torch.float32, device=w.device)
        normal_(z, 0.0, 1.0)
        w.mul_(torch.exp(head_row_sigma * z).to(w.dtype))


def build_model(arch, cfg, seed):
    model = model_class(arch)(cfg)
    model.eval()
    reinit(model, seed)
    return model


def build_model_on(arch, cfg, seed, device, dtype, head_row_sigma=0.0):
    """The model made directly on `device` in `dtype` (an 8B model in fp32 on the CPU would be
    32 GB and minutes of init), then reinit there. Falls back to the CPU in `dtype` (moved to
    `device` afterwards) if the constructor cannot run under torch.device."""
    cls = model_class(arch)

    def construct():
        try:
            return cls._from_config(cfg, dtype=dtype)
        except TypeError:
            return cls._from_config(cfg, torch_dtype=dtype)

    try:
        with torch.device(device):
            model = construct()
        where = device
    except Exception as e:
        print(f"  building on {device} failed ({e!r}); building on the CPU in {dtype}")
        model = construct().to(device)
        where = "cpu, then " + str(device)
    model.eval()
    bad = [n for n, p in model.named_parameters() if p.device.type != torch.device(device).type
           or p.dtype != dtype]
    if bad:
        print(f"  {len(bad)} parameters not on {device} in {dtype} (e.g. {bad[0]}); moving them")
        model = model.to(device=device, dtype=dtype)
    reinit(model, seed, device, head_row_sigma)
    return model, where


@torch.no_grad()
def max_weight_diff(loaded, ref_model):
    """max |loaded - ref| over the tensors both state dicts hold, tensor by tensor on the loaded
    model's device (no full copy of either model)."""
    ref = ref_model.state_dict()
    diff, compared = 0.0, 0
    for k, t in loaded.state_dict().items():
        r = ref.get(k)
        if r is None or r.shape != t.shape:
            continue
        d = (t.detach().float() - r.detach().to(t.device).float()).abs().max().item()
        diff = max(diff, d)
        compared += 1
    return diff, compared


def save_model(model, out_dir, dtype, shards, generation_config):
    model = model.to(dtype)
    model.generation_config = generation_config
    if shards > 1:
        total = sum(p.numel() * p.element_size() for p in model.state_dict().values())
        limit_kb = max(1, int(total / shards / 1000))
        model.save_pretrained(out_dir, max_shard_size=f"{limit_kb}KB")
        if not glob.glob(os.path.join(out_dir, "model-*-of-*.safetensors")):
            reshard(out_dir, shards)
    else:
        model.save_pretrained(out_dir)
    return model


def reshard(out_dir, shards):
    """Fallback when save_pretrained wrote one file: split it as HF would (index + shards)."""
    from safetensors.torch import load_file, save_file

    single = os.path.join(out_dir, "model.safetensors")
    tensors = load_file(single)
    names = sorted(tensors)
    per = math.ceil(len(names) / shards)
    weight_map, total = {}, 0
    for i in range(shards):
        part = names[i * per : (i + 1) * per]
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: tensors[k].contiguous() for k in part}, os.path.join(out_dir, fname),
                  metadata={"format": "pt"})
        for k in part:
            weight_map[k] = fname
            total += tensors[k].numel() * tensors[k].element_size()
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    os.remove(single)
    print(f"  resharded by hand into {shards} files")


def rewrite_config_as_4x(out_dir, version="4.57.1", omit_vision=None):
    """Public SmolVLM checkpoints were written by transformers 4.x: `text_config.rope_theta`
    (and `rope_scaling` without it) instead of `rope_parameters`, `torch_dtype` instead of
    `dtype`. omit_vision: {key: class default}; vision_config keys equal to their default are
    dropped, as 4.x's diff-to-defaults writer left them out of the SmolVLM2 configs."""
    path = os.path.join(out_dir, "config.json")
    with open(path) as f:
        cfg = json.load(f)

    def fix(d):
        if "dtype" in d:
            d["torch_dtype"] = d.pop("dtype")
        rp = d.pop("rope_parameters", None)
        if isinstance(rp, dict):
            d["rope_theta"] = rp["rope_theta"]
            if rp.get("rope_type", "default") == "default":
                d["rope_scaling"] = None
            else:
                d["rope_scaling"] = {k: v for k, v in rp.items() if k != "rope_theta"}

    fix(cfg)
    for key in ("text_config", "vision_config"):
        if isinstance(cfg.get(key), dict):
            fix(cfg[key])
    dropped = []
    if omit_vision and isinstance(cfg.get("vision_config"), dict):
        vc = cfg["vision_config"]
        for k, default in omit_vision.items():
            if k in vc and vc[k] == default:
                del vc[k]
                dropped.append(k)
    cfg["transformers_version"] = version
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    return dropped
