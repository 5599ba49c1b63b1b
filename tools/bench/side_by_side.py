#!/usr/bin/env python3
"""smolvk vs transformers on the same model, in one command.

Run on the GPU machine (python3 with torch + transformers, CUDA) from the repo root:

    python3 tools/bench/side_by_side.py --smolvk build-gpu/apps/smolvk
    python3 tools/bench/side_by_side.py --smolvk build-gpu/apps/smolvk --model /tmp/full/full_size_8b

Without --model: a random SmolVLM-256M-shaped model. transformers: the model built by
tools/goldens (model_builder + cases.FULL_SIZE), bf16, SDPA, eager `generate` (greedy, exactly N
new tokens). smolvk: `smolvk bench --shape 256m --json` with the same batch, tiles, prompt
length and new tokens, as a subprocess.

With --model DIR: a checkpoint folder (e.g. one `make_goldens.py --full-size` wrote).
transformers loads it in bf16 with SDPA on CUDA (a float32 checkpoint is cast to bf16);
smolvk runs `smolvk bench --model DIR --json` (the checkpoint's own dtype, said in the table's
title). Image token id, tile size and tokens per tile come from the checkpoint's config.json,
the text ids from its tokenizer.json (the sentence `smolvk bench` uses). Cases suited to a
large model by default: decode at batch 1 and 8, first token of 1 image of 1 and of 13 tiles
(a 1000 x 700 photo); no batched prefill; no cold start (it would load the weights twice).

Definitions (both systems):
  prefill → first token  generate(max_new_tokens=1) wall time for transformers, its
                         pixel_values already on the GPU in bf16; smolvk's first_token_ms
                         (upload of the tiles as the processor's bytes from host memory,
                         vision encode with the normalization on the GPU, prefill, first token
                         read back)
  decode ms/step         transformers: (t_generate(N) − t_generate(1)) / (N − 1);
                         smolvk: time between token callbacks of steps 2..N−1
  tokens/s               batch / decode ms/step
  peak memory            torch.cuda.max_memory_allocated vs smolvk's peak device bytes
Every figure is the median over --reps runs after --warmup runs. The ratio column is
transformers / smolvk for times and memory, smolvk / transformers for tokens/s (>1 = smolvk
better). Report ratios, not absolute times from different runs.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools", "goldens"))

# SmolVLM-256M ids (shared/smolvlm-reference.md); no tokenizer is needed, prompts are ids.
IMAGE_TOKEN_ID = 49190
END_OF_UTTERANCE_ID = 49279
PAD_ID = 2
BOS_ID = 0
TEXT_IDS = [9519, 28, 36264, 451, 2564, 281, 3224, 30, 216]  # any ordinary vocabulary ids
# The text `smolvk bench` tokenizes for its prompts (apps/cli/bench_session.cpp).
BENCH_SENTENCE = "User: Describe this picture in detail. "
# Config class defaults where a config.json leaves a key out (shared/smolvlm-reference.md).
VISION_DEFAULTS = {"image_size": 224, "patch_size": 32}
TOP_DEFAULTS = {"scale_factor": 2, "image_token_id": 128257}

# Defaults per mode: (random 256M, --model DIR).
MODE_DEFAULTS = {
    "decode_batches": ("1,8,32", "1,8"),
    "prefill_tiles": ("1,17", "1,13"),
    "batched_prefill": ("8x13", ""),
    "new_tokens": (64, 32),
    "warmup": (2, 1),
    "reps": (5, 3),
}


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def checkpoint_spec(model_dir):
    """What the prompts need from a checkpoint folder, from its files (no transformers)."""
    cfg = read_json(os.path.join(model_dir, "config.json"))
    if not isinstance(cfg, dict):
        raise SystemExit(f"{model_dir}/config.json: missing or not JSON")
    vc = cfg.get("vision_config") or {}
    tc = cfg.get("text_config") or {}
    image = int(vc.get("image_size", VISION_DEFAULTS["image_size"]))
    patch = int(vc.get("patch_size", VISION_DEFAULTS["patch_size"]))
    scale = int(cfg.get("scale_factor", TOP_DEFAULTS["scale_factor"]))
    image_token_id = int(cfg.get("image_token_id", TOP_DEFAULTS["image_token_id"]))
    vocab = int(tc.get("vocab_size", cfg.get("vocab_size", 0)) or 0)
    gen = read_json(os.path.join(model_dir, "generation_config.json"), {}) or {}
    pad = gen.get("pad_token_id")
    if pad is None:
        eos = gen.get("eos_token_id", 0)
        pad = eos[0] if isinstance(eos, list) else eos
    text_ids = None
    try:
        from tokenizers import Tokenizer

        t = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        text_ids = [i for i in t.encode(BENCH_SENTENCE, add_special_tokens=False).ids
                    if i != image_token_id and (not vocab or i < vocab)]
    except Exception as e:
        print(f"  (tokenizer.json not used: {e!r}; plain ids instead)")
    if not text_ids:
        text_ids = [i for i in TEXT_IDS if not vocab or i < vocab] or [0]
    return {
        "label": os.path.basename(os.path.normpath(model_dir)),
        "arch": cfg.get("model_type", "idefics3"),
        "dtype": cfg.get("torch_dtype", cfg.get("dtype", "?")),
        "image_token_id": image_token_id,
        "image_size": image,
        "image_seq_len": (image // patch) ** 2 // (scale * scale),
        "pad_id": int(pad),
        "text_ids": text_ids,
        "vocab_size": vocab,
    }


RANDOM_256M_SPEC = {
    "label": "SmolVLM-256M shapes, random bf16 weights",
    "arch": "idefics3",
    "dtype": "bfloat16",
    "image_token_id": IMAGE_TOKEN_ID,
    "image_size": 512,
    "image_seq_len": 64,
    "pad_id": PAD_ID,
    "text_ids": TEXT_IDS,
    "vocab_size": 49280,
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smolvk", default=os.path.join(REPO, "build-gpu", "apps", "smolvk"),
                   help="path of the smolvk binary (default: build-gpu/apps/smolvk)")
    p.add_argument("--model", metavar="DIR",
                   help="a checkpoint folder to run on both sides instead of the random 256M model")
    p.add_argument("--dtype", choices=["auto", "bf16"], default="auto",
                   help="with --model: smolvk bench's --dtype (auto: the checkpoint's own; bf16: a float32 "
                   "checkpoint's weights kept as bf16, as transformers here loads them)")
    p.add_argument("--decode-batches", help="batch sizes of the decode cases (default 1,8,32; "
                                            "with --model 1,8)")
    p.add_argument("--decode-tiles", type=int, default=1, help="tiles per request in the decode cases")
    p.add_argument("--prefill-tiles", help="tile counts of the prefill cases, batch 1 (default "
                                           "1,17; with --model 1,13)")
    p.add_argument("--batched-prefill",
                   help="BxT prefill cases: B requests of T tiles each, encoded and prefilled "
                        "together (default 8x13; with --model none)")
    p.add_argument("--new-tokens", type=int, help="tokens generated in the decode cases "
                                                  "(default 64; with --model 32)")
    p.add_argument("--extra-text", type=int, default=20,
                   help="text tokens besides the image tokens (prompt = tiles·image_seq_len + this)")
    p.add_argument("--warmup", type=int, help="default 2; with --model 1")
    p.add_argument("--reps", type=int, help="default 5; with --model 3")
    p.add_argument("--cold-start", action="store_true",
                   help="with --model: also measure smolvk's cold start (loads the weights twice)")
    p.add_argument("--seed", type=int, default=5005)
    p.add_argument("--skip-transformers", action="store_true", help="only run smolvk")
    p.add_argument("--skip-smolvk", action="store_true", help="only run transformers")
    p.add_argument("--keep-driver-cache", action="store_true",
                   help="leave the NVIDIA driver's own shader disk cache on (by default it is off "
                        "for smolvk, so 'empty cache' cold start really compiles)")
    p.add_argument("--json-out", help="also write every measurement to this JSON file")
    a = p.parse_args()
    mode = 1 if a.model else 0
    for key, values in MODE_DEFAULTS.items():
        if getattr(a, key) is None:
            setattr(a, key, values[mode])
    if a.model and not os.path.isfile(os.path.join(a.model, "config.json")):
        p.error(f"--model {a.model}: no config.json there")
    try:
        a.decode_batches = [int(x) for x in a.decode_batches.split(",") if x]
        a.prefill_tiles = [int(x) for x in a.prefill_tiles.split(",") if x]
        a.batched_prefill = [tuple(int(v) for v in x.split("x")) for x in a.batched_prefill.split(",") if x]
        if any(len(bt) != 2 or min(bt) < 1 for bt in a.batched_prefill):
            raise ValueError
    except ValueError:
        p.error("--decode-batches / --prefill-tiles take comma-separated integers, --batched-prefill BxT pairs")
    if a.new_tokens < 3:
        p.error("--new-tokens must be at least 3 (decode time is a difference of two generates)")
    if a.reps < 1 or a.warmup < 0:
        p.error("--reps must be ≥ 1 and --warmup ≥ 0")
    if not a.skip_smolvk and not os.access(a.smolvk, os.X_OK):
        p.error(f"smolvk binary not found or not executable: {a.smolvk} (build it, or pass --smolvk)")
    return a


def cases(a):
    """(name, batch, tiles, new_tokens, what) — what: 'decode' or 'prefill'."""
    out = [(f"decode b{b}", b, a.decode_tiles, a.new_tokens, "decode") for b in a.decode_batches]
    out += [(f"prefill {t} tile{'s' if t != 1 else ''}", 1, t, 2, "prefill") for t in a.prefill_tiles]
    out += [(f"prefill {b} x {t} tiles", b, t, 2, "prefill") for b, t in a.batched_prefill]
    return out


def prompt_ids(tiles, spec, extra_text):
    """Same layout as smolvk bench: up to 5 text tokens, the image tokens, the rest text."""
    before = min(extra_text, 5)
    ids = spec["text_ids"]
    text = [ids[i % len(ids)] for i in range(extra_text)]
    return text[:before] + [spec["image_token_id"]] * (tiles * spec["image_seq_len"]) + text[before:]


# ---------------------------------------------------------------- transformers

def load_checkpoint_bf16(model_dir, arch):
    """transformers' model of the folder in bf16 with SDPA, on CUDA (straight there if
    device_map works, else through the CPU)."""
    import torch

    import hf_env

    cls = hf_env.model_class(arch)

    def load(**kw):
        try:
            return cls.from_pretrained(model_dir, dtype=torch.bfloat16, attn_implementation="sdpa", **kw)
        except TypeError:
            return cls.from_pretrained(model_dir, torch_dtype=torch.bfloat16, attn_implementation="sdpa", **kw)

    try:
        return load(device_map="cuda").eval()
    except Exception as e:
        print(f"  (from_pretrained(device_map='cuda') failed: {e!r}; loading through the CPU)")
        return load().to("cuda").eval()


class HfRunner:
    def __init__(self, seed, spec, model_dir=None):
        import hf_env

        hf_env.install_num2words_stub()
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("transformers side: CUDA is not available")
        self.torch = torch
        self.spec = spec
        if model_dir:
            t0 = time.time()
            model = load_checkpoint_bf16(model_dir, spec["arch"])
            self.model = model
            self.attn = getattr(model.config, "_attn_implementation", "?")
            self.image_size = spec["image_size"]
            self.image_seq_len = spec["image_seq_len"]
            got = getattr(model.config, "image_token_id", None)
            if got is not None and int(got) != spec["image_token_id"]:
                print(f"  !! transformers' config has image_token_id {got}, config.json {spec['image_token_id']}")
            vc = model.config.vision_config
            if int(vc.image_size) != self.image_size:
                print(f"  !! transformers' vision image_size {vc.image_size}, config.json gives {self.image_size}")
            self.params = sum(p.numel() for p in model.parameters())
            print(f"transformers model: {self.params / 1e9:.3f} B parameters from {model_dir}, bf16, "
                  f"attention {self.attn}, loaded in {time.time() - t0:.1f} s")
            return
        from cases import FULL_SIZE
        from model_builder import build_model, make_config

        arch = FULL_SIZE["arch"]
        cfg = make_config(arch, FULL_SIZE, FULL_SIZE["vocab_size"], IMAGE_TOKEN_ID, pad_id=PAD_ID,
                          bos_id=BOS_ID, eos_id=END_OF_UTTERANCE_ID)
        try:
            cfg._attn_implementation = "sdpa"
        except Exception:
            pass
        t0 = time.time()
        model = build_model(arch, cfg, seed)
        model = model.to(torch.bfloat16).to("cuda").eval()
        if hasattr(model, "set_attn_implementation"):
            try:
                model.set_attn_implementation("sdpa")
            except Exception as e:  # older API or already sdpa
                print(f"  (set_attn_implementation: {e!r})")
        self.model = model
        self.attn = getattr(model.config, "_attn_implementation", "?")
        v = FULL_SIZE["vision"]
        self.image_size = v["image"]
        self.image_seq_len = (v["image"] // v["patch"]) ** 2 // FULL_SIZE["scale"] ** 2
        self.params = sum(p.numel() for p in model.parameters())
        print(f"transformers model: {self.params / 1e6:.1f} M parameters, bf16, attention "
              f"{self.attn}, built in {time.time() - t0:.1f} s")

    def inputs(self, batch, tiles, extra_text, seed):
        torch = self.torch
        ids = prompt_ids(tiles, self.spec, extra_text)
        input_ids = torch.tensor([ids] * batch, dtype=torch.long, device="cuda")
        kw = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids))
        if tiles:
            g = torch.Generator(device="cpu").manual_seed(seed)
            s = self.image_size
            pv = torch.rand((1, tiles, 3, s, s), generator=g) * 2 - 1
            kw["pixel_values"] = pv.expand(batch, -1, -1, -1, -1).contiguous().to("cuda", torch.bfloat16)
            kw["pixel_attention_mask"] = torch.ones((batch, tiles, s, s), dtype=torch.bool, device="cuda")
        return kw, len(ids)

    def generate_ms(self, kw, new_tokens):
        torch = self.torch
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**kw, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                      do_sample=False, pad_token_id=self.spec["pad_id"])
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t0) * 1e3
        got = out.shape[1] - kw["input_ids"].shape[1]
        if got != new_tokens:
            raise RuntimeError(f"generate made {got} tokens, expected {new_tokens}")
        return ms

    def measure(self, batch, tiles, new_tokens, what, a):
        torch = self.torch
        kw, prompt_len = self.inputs(batch, tiles, a.extra_text, a.seed)
        for _ in range(a.warmup):
            self.generate_ms(kw, 1)
            if what == "decode":
                self.generate_ms(kw, new_tokens)
        torch.cuda.reset_peak_memory_stats()
        first, full = [], []
        for _ in range(a.reps):
            first.append(self.generate_ms(kw, 1))
            if what == "decode":
                full.append(self.generate_ms(kw, new_tokens))
        r = {"prompt_tokens": prompt_len, "first_token_ms": statistics.median(first),
             "peak_bytes": torch.cuda.max_memory_allocated()}
        if what == "decode":
            steps = [(f - p) / (new_tokens - 1) for f, p in zip(full, first)]
            r["decode_ms_per_step"] = statistics.median(steps)
            r["tokens_per_s"] = batch * 1e3 / r["decode_ms_per_step"]
        return r


# ---------------------------------------------------------------- smolvk

def run_smolvk(a, batch, tiles, new_tokens, prompt_tokens, cold):
    source = ["--model", a.model, "--dtype", a.dtype] if a.model else ["--shape", "256m", "--dtype", "bf16"]
    cmd = [a.smolvk, "bench", *source, "--batch", str(batch),
           "--tiles", str(tiles), "--prompt-tokens", str(prompt_tokens), "--new-tokens", str(new_tokens),
           "--warmup", str(a.warmup), "--reps", str(a.reps), "--seed", str(a.seed), "--json"]
    if not cold:
        cmd.append("--no-cold-start")
    env = dict(os.environ)
    if not a.keep_driver_cache:
        env["__GL_SHADER_DISK_CACHE"] = "0"
    print("  $ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"smolvk exited with {p.returncode}:\n{p.stderr.strip()[-3000:]}")
    try:
        j = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"smolvk printed no JSON ({e}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    med = lambda key: (j.get(key) or {}).get("median")  # noqa: E731
    r = {"prompt_tokens": j["settings"]["prompt_tokens"], "first_token_ms": med("first_token_ms"),
         "encode_ms": med("encode_ms"), "prefill_ms": med("prefill_ms"),
         "decode_ms_per_step": med("decode_ms_per_step"), "tokens_per_s": med("decode_tokens_per_s"),
         "peak_bytes": j["peak_device_bytes"], "device": j["device"]["name"], "raw": j}
    return r


# ---------------------------------------------------------------- report

def fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if unit == "GiB":
        return f"{v / 2**30:.3f}"
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"


def ratio(hf, vk, higher_is_better=False):
    if hf is None or vk is None or hf <= 0 or vk <= 0:
        return "—"
    return f"{(vk / hf if higher_is_better else hf / vk):.2f}×"


def main():
    a = parse_args()
    spec = checkpoint_spec(a.model) if a.model else RANDOM_256M_SPEC
    print(f"model: {spec['label']} ({spec['arch']}, {spec['dtype']}): <image> {spec['image_token_id']}, "
          f"{spec['image_size']} px tiles, {spec['image_seq_len']} tokens a tile, text ids {spec['text_ids'][:8]}")
    rows, record = [], {"model": a.model, "spec": spec, "cases": []}
    hf = None if a.skip_transformers else HfRunner(a.seed, spec, a.model)
    image_seq_len = spec["image_seq_len"]
    # With --model the cold start loads the weights twice: only on request.
    first_smolvk = a.cold_start or not a.model
    for name, batch, tiles, new_tokens, what in cases(a):
        prompt_tokens = tiles * image_seq_len + a.extra_text
        print(f"== {name}: batch {batch}, {tiles} tile(s), prompt {prompt_tokens} tokens, "
              f"{new_tokens} new tokens", flush=True)
        h = v = None
        if hf:
            try:
                h = hf.measure(batch, tiles, new_tokens, what, a)
                print(f"  transformers: {json.dumps(h)}", flush=True)
            except Exception as e:
                print(f"  transformers FAILED: {e!r}", flush=True)
            hf.torch.cuda.empty_cache()
        if not a.skip_smolvk:
            try:
                v = run_smolvk(a, batch, tiles, new_tokens, prompt_tokens, cold=first_smolvk)
                first_smolvk = False
                print("  smolvk: " + json.dumps({k: x for k, x in v.items() if k != "raw"}), flush=True)
            except Exception as e:
                print(f"  smolvk FAILED: {e}", flush=True)
        record["cases"].append({"name": name, "batch": batch, "tiles": tiles, "new_tokens": new_tokens,
                                "transformers": h, "smolvk": v})
        g = lambda d, k: d.get(k) if d else None  # noqa: E731
        if what == "decode":
            rows.append((f"{name}: decode ms/step", g(h, "decode_ms_per_step"), g(v, "decode_ms_per_step"), False, ""))
            rows.append((f"{name}: tokens/s", g(h, "tokens_per_s"), g(v, "tokens_per_s"), True, ""))
        rows.append((f"{name}: prefill → first token ms", g(h, "first_token_ms"), g(v, "first_token_ms"), False, ""))
        rows.append((f"{name}: peak memory GiB", g(h, "peak_bytes"), g(v, "peak_bytes"), False, "GiB"))

    device = next((c["smolvk"]["device"] for c in record["cases"] if c["smolvk"]), "?")
    import_note = ""
    if hf:
        import torch
        import transformers
        import_note = (f"transformers {transformers.__version__}, torch {torch.__version__}, "
                       f"{torch.cuda.get_device_name(0)}, attention {hf.attn}")
    print()
    title = (f"{spec['label']} (checkpoint {spec['dtype']}; transformers in bf16; smolvk --dtype {a.dtype})"
             if a.model else spec["label"])
    print(f"{title}; smolvk on {device}; {import_note}")
    print(f"medians of {a.reps} reps after {a.warmup} warmup; ratio: >1 = smolvk better")
    w = max(len(r[0]) for r in rows) if rows else 20
    print(f"{'':<{w}}  {'transformers':>13}  {'smolvk':>10}  {'ratio':>8}")
    for label, hv, vv, better_high, unit in rows:
        print(f"{label:<{w}}  {fmt(hv, unit):>13}  {fmt(vv, unit):>10}  {ratio(hv, vv, better_high):>8}")
    cold = next((c["smolvk"]["raw"].get("cold_start") for c in record["cases"] if c["smolvk"]), None)
    if cold:
        e, wm = cold["empty_cache"], cold["warm_cache"]
        print(f"\nsmolvk cold start (context + first generate, weights excluded): empty cache "
              f"{e['first_token_ms']:.0f} ms to first token, {e['pipelines_ready_ms']:.0f} ms to pipelines "
              f"ready; warm cache {wm['first_token_ms']:.0f} / {wm['pipelines_ready_ms']:.0f} ms "
              f"({wm['cache_bytes_loaded']} cache bytes loaded)")
    if a.json_out:
        for c in record["cases"]:
            if c["smolvk"]:
                c["smolvk"] = {k: x for k, x in c["smolvk"].items() if k != "raw"} | {"bench": c["smolvk"]["raw"]}
        with open(a.json_out, "w") as f:
            json.dump(record, f, indent=1)
        print(f"\nwrote {a.json_out}")


if __name__ == "__main__":
    main()
