#!/usr/bin/env python3
"""Where a tensor-core run's difference from float32 comes from, stage by stage.

    python3 tools/reference/precision_stages.py --model DIR --smolvk BIN [--variants 'NAME:ENV=V ...;...']

Run from the repository root on the GPU machine (transformers, torch with CUDA; for the video
prompt the real num2words, under .pydeps as make_video_golden.py says). DIR: a full-size SmolVLM2
checkpoint (`make_goldens.py --full-size DIR --full-cases smolvlm2-256m`).

Two requests: the video prompt of video_full_check.py (the committed frames given to transformers'
processor) and one image (the first committed frame as a PNG) with a question. For each:

  transformers (float32, eager)  the last position's logits, the connector's output (the image
         features) and the decoder's input embeddings (the features spliced in);
  f16 emulated   the same model with the inputs of chosen stages rounded to float16 as the tensor
         cores round them (the Linear / Conv2d inputs, weights and biases; the attention's q, k,
         v and softmax probabilities): how far each stage alone moves the logits, with no smolvk
         kernel involved;
  smolvk         `run --inputs-embeds` on transformers' embeddings (the decoder alone) and
         `run --image|--video --dump-image-features` (the vision encoder + connector, and the whole
         model; the video with --video-smolvk only): per --variants entry (SMOLVK_* settings;
         "default" is none).

Prints a JSON line per measurement, then a table. Every difference is max |diff| / max |ref|;
greedy ids are compared over --steps against transformers' float32 ones. At the end transformers
itself in bfloat16, for scale.

Session 18, H200 (tools/gpu/s18.sh): smolvk's tensor-core path lands where the emulation of all
stages lands (video decoder alone 3.59e-3 against 3.23e-3 with bf16 weights, 4.18e-3 against
4.12e-3 with f32 ones; image features 4.4e-4 / 4.0e-4 and 7.5e-4 / 7.2e-4), and on session 17's
near-tie checkpoint the emulation changed the greedy ids at the steps smolvk did. The decoder's
GEMMs are the largest share; with f32 weights their rounding to f16 is the rest
("text_gemm/x" and "/w" stages split them). transformers in bf16: 0.05-0.35.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIDEO = os.path.join(ROOT, "tests", "data", "video")
sys.path.insert(0, os.path.join(ROOT, "tools", "goldens"))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, os.path.join(ROOT, "tools", "gpu"))

VIDEO_PROMPT = "What happens in this video?"
IMAGE_PROMPT = "Describe this image."


def rel(got, ref):
    import numpy as np
    got, ref = np.asarray(got, np.float64).reshape(-1), np.asarray(ref, np.float64).reshape(-1)
    if got.shape != ref.shape:
        return f"shape {got.shape} vs {ref.shape}"
    if not (np.isfinite(got).all() and np.isfinite(ref).all()):
        return "not finite"
    return float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))


class F16Stages:
    """Rounds the inputs of the chosen stages to float16 while active (a context manager).
    A stage: one of STAGES, a GEMM stage narrowed to the Linear layers of one name
    ("text_gemm:down_proj"), and/or to their weights or their inputs alone ("text_gemm/w",
    "text_gemm:down_proj/x"); a GEMM stage's weights include its biases."""

    STAGES = ("vision_gemm", "vision_attn", "connector", "text_gemm", "text_attn", "softmax")

    def __init__(self, model, stages):
        self.model, self.undo = model, []
        self.specs = []
        for st in stages:
            st, _, mode = st.partition("/")
            st, _, leaf = st.partition(":")
            if st not in self.STAGES or mode not in ("", "w", "x"):
                raise SystemExit(f"unknown stage {st!r}{'/' + mode if mode else ''} (known: {', '.join(self.STAGES)})")
            self.specs.append((st, leaf or None, mode or "wx"))
        self.stages = {st for st, _, _ in self.specs}

    @staticmethod
    def r16(t):
        return None if t is None else t.half().to(t.dtype)

    def stage_of(self, name, m):
        import torch.nn as nn
        where = ("vision" if ".vision_model." in f".{name}" else "connector" if ".connector." in f".{name}"
                 else "text" if ".text_model." in f".{name}" else None)
        if where is None:
            return None
        leaf = name.rsplit(".", 1)[-1]
        if where != "connector" and leaf in ("q_proj", "k_proj", "v_proj") and isinstance(m, nn.Linear):
            return where + "_qkv"  # a GEMM whose output the attention reads
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            return "connector" if where == "connector" else where + "_gemm"
        return None

    def rounding(self, st, leaf):
        """(weights, inputs, output for the attention) rounded for a module of stage `st`."""
        gemm_st, rw, rx = st.replace("_qkv", "_gemm"), False, False
        for s, lf, mode in self.specs:
            if s == gemm_st and lf in (None, leaf):
                rw, rx = rw or "w" in mode, rx or "x" in mode
        attn = st.endswith("_qkv") and st.replace("_qkv", "_attn") in self.stages
        return rw, rx, attn

    def __enter__(self):
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        r16 = self.r16
        for name, m in self.model.named_modules():
            st = self.stage_of(name, m)
            if st is None:
                continue
            rw, rx, attn = self.rounding(st, name.rsplit(".", 1)[-1])
            if not (rw or rx or attn):
                continue
            w = r16(m.weight) if rw else m.weight
            b = r16(m.bias) if rw and m.bias is not None else m.bias
            if isinstance(m, nn.Conv2d):
                def fwd(x, m=m, w=w, b=b, g=rx):
                    return m._conv_forward(r16(x) if g else x, w, b)
            else:
                def fwd(x, w=w, b=b, g=rx, a=attn):
                    y = F.linear(r16(x) if g else x, w, b)
                    return r16(y) if a else y
            m.forward = fwd
            self.undo.append(m)
        if "softmax" in self.stages:
            orig = torch.nn.functional.softmax

            def softmax(*a, **k):
                return r16(orig(*a, **k))
            torch.nn.functional.softmax = softmax
            self.orig_softmax = orig
        return self

    def __exit__(self, *exc):
        import torch
        for m in self.undo:
            del m.forward
        if hasattr(self, "orig_softmax"):
            torch.nn.functional.softmax = self.orig_softmax


def forward(model, enc, dtype=None):
    """Last-position logits, image features (connector output) and the decoder's input embeddings;
    pixel values in `dtype` (default float32)."""
    import torch
    got = {}

    def on_connector(mod, args, out):
        got["features"] = out.detach().float().cpu().numpy()

    def on_text(mod, args, kwargs):
        if kwargs.get("inputs_embeds") is not None:
            got["embeds"] = kwargs["inputs_embeds"].detach().float().cpu().numpy()

    h1 = model.model.connector.register_forward_hook(on_connector)
    h2 = model.model.text_model.register_forward_pre_hook(on_text, with_kwargs=True)
    try:
        with torch.no_grad():
            kw = {k: v.to("cuda") for k, v in enc.items() if hasattr(v, "to")}
            kw["pixel_values"] = kw["pixel_values"].to(dtype or torch.float32)
            out = model(**kw, use_cache=False)
    finally:
        h1.remove()
        h2.remove()
    got["logits"] = out.logits[0, -1].float().cpu().numpy()
    return got


def smolvk(binary, model_dir, env_extra, args, outdir, tag, steps):
    env = dict(os.environ)
    env.update(env_extra)
    logits = os.path.join(outdir, f"{tag}_logits.npy")
    cmd = [binary, "run", "--model", model_dir, "--max-new-tokens", str(max(steps, 1)), "--ignore-eos", "--json",
           "--dump-logits", logits] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if p.returncode != 0:
        return None, f"smolvk failed ({p.returncode}): {p.stderr[-500:]}"
    return json.loads(p.stdout), logits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--smolvk", required=True)
    ap.add_argument("--variants", default="default",
                    help="';'-separated NAME or NAME:ENV=V,ENV=V (default: none set)")
    ap.add_argument("--out", default=tempfile.mkdtemp(prefix="precision_"))
    ap.add_argument("--pydeps", default=os.path.join(ROOT, ".pydeps"))
    ap.add_argument("--no-video", action="store_true", help="the image request only")
    ap.add_argument("--emulate", default="",
                    help="';'-separated f16-emulated runs, each '+'-joined stages (F16Stages), in place of the "
                         "default set (each stage alone, vision, text, all)")
    ap.add_argument("--no-smolvk", action="store_true", help="the f16 emulation only")
    ap.add_argument("--steps", type=int, default=16,
                    help="greedy steps compared with transformers' float32 ones (0: the first logits only)")
    ap.add_argument("--video-smolvk", help="a smolvk built with video (and its FFmpeg libraries found): the video "
                    "request runs whole through it too (`run --video`), not only from the embeddings")
    a = ap.parse_args()
    import numpy as np
    import hf_env
    from golden_runner import load_image
    from compare_full_golden import greedy_agreement
    from make_goldens import load_golden_model
    from make_video_golden import committed_frames, video_inputs

    hf_env.import_real_num2words(a.pydeps)  # SmolVLMProcessor needs it (the video prompt spells the frame count)
    variants = []
    for v in a.variants.split(";"):
        name, _, envs = v.partition(":")
        variants.append((name, dict(e.split("=", 1) for e in envs.split(",") if e)))

    processor = hf_env.find_class("SmolVLMProcessor", ["transformers.models.smolvlm.processing_smolvlm"]) \
        .from_pretrained(a.model)
    model, _ = load_golden_model(hf_env.model_class("smolvlm"), a.model, "cuda", True)
    info = committed_frames()
    frame = os.path.join(VIDEO, "frames", info["frames"][0])

    requests = []
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": IMAGE_PROMPT}]}]
    text = processor.apply_chat_template(msgs, add_generation_prompt=True)
    requests.append(("image", processor(text=[text], images=[[load_image(frame).convert("RGB")]], return_tensors="pt"),
                     ["--image", frame, "--prompt", IMAGE_PROMPT], a.smolvk))
    if not a.no_video:
        whole = ["--video", os.path.join(VIDEO, info["video"]), "--prompt", VIDEO_PROMPT] if a.video_smolvk else None
        requests.append(("video", video_inputs(processor, info, VIDEO_PROMPT)[4], whole, a.video_smolvk))

    rows = []

    def same_ids(got, want, margins):
        """compare_full_golden's greedy agreement over --steps (nothing when not run)."""
        return greedy_agreement(want, got, margins) if a.steps and got is not None else {}

    def report(req, what, features=None, logits=None, **extra):
        r = {"request": req, "what": what, "features_rel": features, "logits_rel": logits, **extra}
        rows.append(r)
        print(json.dumps(r), flush=True)

    emulated = [(s,) for s in F16Stages.STAGES] + [
        ("vision_gemm", "vision_attn", "connector"), ("text_gemm", "text_attn", "softmax"), F16Stages.STAGES]
    if a.emulate:
        emulated = [tuple(e.split("+")) for e in a.emulate.split(";")]
    if a.no_smolvk:
        variants = []
    from golden_runner import greedy

    def greedy_ids(enc):
        return greedy(model, enc, a.steps, "cuda")[1:] if a.steps else ([[]], [[]])

    refs = {}
    for req, enc, cli, whole_bin in requests:
        ref = forward(model, enc)
        refs[req] = ref
        np.save(os.path.join(a.out, f"{req}_embeds.npy"), ref["embeds"][0].astype(np.float32))
        (want,), (margins,) = greedy_ids(enc)
        report(req, "transformers f32", tokens=int(enc["input_ids"].shape[1]), tiles=int(ref["features"].shape[0]),
               min_margin=round(min(margins), 5) if margins else None)
        for stages in emulated:
            with F16Stages(model, stages):
                got = forward(model, enc)
                (ids,), _ = greedy_ids(enc)
            report(req, "f16 emulated: " + "+".join(stages), rel(got["features"], ref["features"]),
                   rel(got["logits"], ref["logits"]), **same_ids(ids, want, margins))
        for name, env in variants:
            run, logits = smolvk(a.smolvk, a.model, env, ["--inputs-embeds", os.path.join(a.out, f"{req}_embeds.npy")],
                                 a.out, f"{req}_{name}_embeds", a.steps)
            report(req, f"smolvk {name}: decoder alone (--inputs-embeds)", None,
                   rel(np.load(logits), ref["logits"]) if run else logits,
                   **same_ids(run["output_ids"] if run else None, want, margins))
            if cli is None:
                continue
            feats = os.path.join(a.out, f"{req}_{name}_features.npy")
            run, logits = smolvk(whole_bin, a.model, env, cli + ["--dump-image-features", feats], a.out, f"{req}_{name}",
                                 a.steps)
            if run is None:
                report(req, f"smolvk {name}: whole", None, logits)
                continue
            report(req, f"smolvk {name}: whole", rel(np.load(feats), ref["features"]),
                   rel(np.load(logits), ref["logits"]),
                   input_ids_equal=run["input_ids"] == enc["input_ids"][0].tolist(),
                   **same_ids(run["output_ids"], want, margins))

    # For scale: transformers itself in bfloat16, as the model cards load it (the first logits).
    import torch
    model.to(torch.bfloat16)
    for req, enc, _, _ in requests:
        got = forward(model, enc, torch.bfloat16)
        report(req, "transformers bf16 (the model cards' dtype)", rel(got["features"], refs[req]["features"]),
               rel(got["logits"], refs[req]["logits"]))

    print("\n%-6s %-70s %10s %10s  %s" % ("", "", "features", "logits", "greedy ids (first diff: f32 margin there)"))
    for r in rows:
        f = lambda v: "" if v is None else (f"{v:.2e}" if isinstance(v, float) else str(v)[:40])
        g = r.get("greedy_equal", "")
        if r.get("greedy_first_diff_step") is not None:
            g += f" (step {r['greedy_first_diff_step']}: {r.get('margin_at_first_diff')})"
        if r.get("min_margin") is not None:
            g = f"min margin {r['min_margin']}"
        print("%-6s %-70s %10s %10s  %s" % (r["request"], r["what"][:70], f(r["features_rel"]), f(r["logits_rel"]), g))


if __name__ == "__main__":
    main()
