#!/usr/bin/env python3
"""Makes smolvk's reference fixtures with HF transformers (run on the GPU machine).

    python3 tools/goldens/make_goldens.py --out tests/data --examples examples
    python3 tools/goldens/make_goldens.py --full-size /tmp/full   # SmolVLM-256M shapes, CUDA
    python3 tools/goldens/make_goldens.py --full-size /tmp/full --full-cases 256m,2.2b

Each case is a Hugging Face model directory plus golden/ (golden.json + .npy); see
tests/data/README.md for the format.
"""
import argparse
import copy
import json
import os
import shutil
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", help="tests/data directory to (re)write")
    p.add_argument("--examples", help="examples directory (demo-model + example images)")
    p.add_argument("--full-size", metavar="OUTDIR",
                   help="write a SmolVLM-256M-shaped random checkpoint + golden to OUTDIR (CUDA)")
    p.add_argument("--only", nargs="*", help="case names to make (default: all)")
    p.add_argument("--steps", type=int, default=16, help="greedy tokens per request (small cases)")
    p.add_argument("--full-steps", type=int, default=32, help="greedy tokens for --full-size")
    p.add_argument("--full-cases", default="256m",
                   help="comma-separated full-size shapes for --full-size: 256m, 2.2b (cases.FULL_CASES)")
    p.add_argument("--full-seed", type=int,
                   help="another weight seed for --full-size (the random greedy run may hit a near-tie)")
    args = p.parse_args()
    if not (args.out or args.examples or args.full_size):
        p.error("nothing to do: give --out, --examples and/or --full-size")
    return args


def ids_of(tok, names):
    out = {}
    for n in names:
        i = tok.convert_tokens_to_ids(n)
        if i is None or i == tok.unk_token_id and n != tok.unk_token:
            raise RuntimeError(f"token {n} missing from the tokenizer")
        out[n] = int(i)
    return out


def read_chat_template(case_dir):
    jinja_path = os.path.join(case_dir, "chat_template.jinja")
    if os.path.exists(jinja_path):
        with open(jinja_path) as f:
            return f.read(), "chat_template.jinja"
    json_path = os.path.join(case_dir, "chat_template.json")
    if os.path.exists(json_path):
        with open(json_path) as f:
            return json.load(f)["chat_template"], "chat_template.json"
    for name in ("processor_config.json", "tokenizer_config.json"):
        p = os.path.join(case_dir, name)
        if os.path.exists(p):
            with open(p) as f:
                t = json.load(f).get("chat_template")
            if t:
                return t, name
    raise RuntimeError(f"no chat template written in {case_dir}")


def to_4x_processor_files(case_dir, template):
    """4.x wrote chat_template.json and a flat preprocessor_config.json."""
    jinja_path = os.path.join(case_dir, "chat_template.jinja")
    if os.path.exists(jinja_path):
        os.remove(jinja_path)
        with open(os.path.join(case_dir, "chat_template.json"), "w") as f:
            json.dump({"chat_template": template}, f, indent=2)
            f.write("\n")
    pc_path = os.path.join(case_dir, "processor_config.json")
    pre_path = os.path.join(case_dir, "preprocessor_config.json")
    if os.path.exists(pc_path):
        with open(pc_path) as f:
            pc = json.load(f)
        nested = pc.pop("image_processor", None)
        pc.pop("video_processor", None)
        pc.pop("chat_template", None)
        if isinstance(nested, dict) and not os.path.exists(pre_path):
            with open(pre_path, "w") as f:
                json.dump(nested, f, indent=2, sort_keys=True)
                f.write("\n")
        with open(pc_path, "w") as f:
            json.dump(pc, f, indent=2, sort_keys=True)
            f.write("\n")


def tensor_summary(case_dir):
    from safetensors import safe_open

    names, dtypes = [], set()
    for f in sorted(os.listdir(case_dir)):
        if f.endswith(".safetensors"):
            with safe_open(os.path.join(case_dir, f), "pt") as st:
                for k in st.keys():
                    names.append(k)
                    dtypes.add(str(st.get_slice(k).get_dtype()))
    return {"tensors": len(names), "dtypes": sorted(dtypes),
            "has_lm_head": "lm_head.weight" in names,
            "prefixes": sorted({".".join(n.split(".")[:2]) for n in names})}


def _try(fn, *a):
    try:
        return fn(*a)
    except Exception as e:
        return f"failed: {e!r}"


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def direct_request(req, case, image_seq_len, images_dir, images_dir_rel):
    """A hand-made tile whose valid region is the top-left valid_w x valid_h pixels."""
    import numpy as np
    from PIL import Image

    d = req["direct"]
    size = case["vision"]["image"]
    src = np.asarray(Image.open(os.path.join(images_dir, d["source_image"])).convert("RGB"),
                     dtype=np.float32)
    vals = (src / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
    pv = np.zeros((1, 1, 3, size, size), np.float32)
    pv[0, 0, :, : d["valid_h"], : d["valid_w"]] = vals.transpose(2, 0, 1)
    pam = np.zeros((1, 1, size, size), np.uint8)
    pam[0, 0, : d["valid_h"], : d["valid_w"]] = 1
    block = ("<fake_token_around_image><global-img>" + "<image>" * image_seq_len
             + "<fake_token_around_image>")
    prompt = f"<|im_start|>User:{block}{d['question']}<end_of_utterance>\nAssistant:"
    return {
        "name": req["name"],
        "images_dir_rel": images_dir_rel,
        "direct": {
            "prompt_text": prompt, "pixel_values": pv, "pixel_attention_mask": pam,
            "source_image": d["source_image"],
            "valid_region": {"width": d["valid_w"], "height": d["valid_h"]},
        },
    }


def make_case(case, case_dir, raw_tok, images_dir, steps, device, vocab_size=None):
    import torch
    from transformers import GenerationConfig

    import hf_env
    from cases import CHAT_TEMPLATE
    from golden_runner import safe_run
    from model_builder import (build_model, is_tied, make_config, rewrite_config_as_4x,
                               rope_theta_of, save_model)
    from small_tokenizer import wrap_tokenizer

    t0 = time.time()
    arch = case["arch"]
    print(f"== case {case['name']} ({arch}, saved {case['dtype']}, config layout {case['layout']})")
    if os.path.exists(case_dir):
        shutil.rmtree(case_dir)
    golden_dir = os.path.join(case_dir, "golden")
    os.makedirs(golden_dir)

    tok = wrap_tokenizer(raw_tok)
    sp = ids_of(tok, ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>",
                      "<end_of_utterance>", "<fake_token_around_image>", "<global-img>"])
    vocab = vocab_size or len(tok)
    eou = sp["<end_of_utterance>"]
    cfg = make_config(arch, case, vocab, sp["<image>"], pad_id=sp["<|im_end|>"],
                      bos_id=sp["<|im_start|>"], eos_id=sp["<|im_end|>"])
    v = case["vision"]
    image_seq_len = (v["image"] // v["patch"]) ** 2 // case["scale"] ** 2
    model = build_model(arch, cfg, case["seed"])
    # float32 twin with the saved (possibly bf16-rounded) weights; casting the model itself
    # would also round its RoPE inv_freq buffer.
    twin = copy.deepcopy(model) if device == "cpu" else None
    eos = [eou, sp["<|im_end|>"]] if case.get("eos_list") else eou
    gen_cfg = GenerationConfig(bos_token_id=sp["<|endoftext|>"], eos_token_id=eos,
                               pad_token_id=sp["<|im_end|>"])
    dtype = getattr(torch, case["dtype"])
    model = save_model(model, case_dir, dtype, case["shards"], gen_cfg)

    p = case["processor"]
    ip_cls = hf_env.image_processor_class(arch)
    ip = ip_cls(size={"longest_edge": p["longest_edge"]},
                max_image_size={"longest_edge": p["max_image_size"]},
                do_image_splitting=p["splitting"])
    proc_kw = dict(image_processor=ip, tokenizer=tok, image_seq_len=image_seq_len,
                   chat_template=CHAT_TEMPLATE)
    if arch == "smolvlm":
        proc_kw["video_processor"] = hf_env.video_processor()
    proc = hf_env.processor_class(arch)(**proc_kw)
    proc.save_pretrained(case_dir)
    if case["layout"] == "4.x":
        rewrite_config_as_4x(case_dir)
        to_4x_processor_files(case_dir, CHAT_TEMPLATE)

    # Everything below reads the files back, so the goldens describe what is on disk.
    checks = {}
    template, template_file = read_chat_template(case_dir)
    checks["chat_template_file"] = template_file
    checks["chat_template_matches"] = template == CHAT_TEMPLATE
    tok_cls = hf_env.fast_tokenizer_class()
    tok2 = tok_cls.from_pretrained(case_dir)
    checks["tokenizer_class_loaded"] = type(tok2).__name__
    checks["tokenizer_padding_side"] = tok2.padding_side
    checks["bos_added_by_encode"] = tok2("hi")["input_ids"] != tok2("hi", add_special_tokens=False)["input_ids"]
    try:
        ip2 = ip_cls.from_pretrained(case_dir)
        checks["image_processor_reloaded"] = True
    except Exception as e:
        print(f"  image processor reload failed ({e!r}); using the in-memory one")
        ip2, checks["image_processor_reloaded"] = ip, False
    proc_kw.update(image_processor=ip2, tokenizer=tok2, chat_template=template)
    proc2 = hf_env.processor_class(arch)(**proc_kw)
    cls = hf_env.model_class(arch)
    try:
        loaded = cls.from_pretrained(case_dir, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        loaded = cls.from_pretrained(case_dir, torch_dtype=torch.float32, attn_implementation="eager")
    loaded = loaded.to(device).eval()
    checks["loaded_tied"] = is_tied(loaded)
    checks["loaded_rope_theta"] = rope_theta_of(loaded.config.get_text_config())
    checks["rope_theta_ok"] = checks["loaded_rope_theta"] == float(case["text"]["rope_theta"])
    checks["tie_ok"] = checks["loaded_tied"] == case["tied"]
    ref_sd = {k: t.float().cpu() for k, t in model.state_dict().items()}
    diff = 0.0
    for k, t in loaded.state_dict().items():
        if k in ref_sd:
            diff = max(diff, (t.float().cpu() - ref_sd[k]).abs().max().item())
    checks["max_weight_diff_vs_saved"] = diff
    for k in ("rope_theta_ok", "tie_ok", "chat_template_matches"):
        if not checks[k]:
            print(f"  !! check {k} FAILED: {checks}")

    eos_ids = set(eos if isinstance(eos, list) else [eos])
    ctx = dict(model=loaded, processor=proc2, tokenizer=tok2, device=device, steps=steps,
               golden_dir=golden_dir, image_seq_len=image_seq_len, image_token_id=sp["<image>"],
               eos_ids=eos_ids, chat_template=template)
    rel_images = os.path.relpath(images_dir, golden_dir)
    entries = []
    for req in case["requests"]:
        if "direct" in req:
            r = direct_request(req, case, image_seq_len, images_dir, rel_images)
        else:
            r = dict(req, images_dir=images_dir, images_dir_rel=rel_images)
        e = safe_run(ctx, r)
        if e is not None:
            entries.append(e)
    # The in-memory model (same weights, default attention) must give the same logits.
    if entries and device == "cpu":
        try:
            twin.load_state_dict({k: v.to(dtype).float() for k, v in twin.state_dict().items()})
            ref = twin.eval()
            from golden_runner import greedy
            first, _, _ = greedy(ref, entries[0]["_enc"], 1, device)
            import numpy as np
            got = np.load(os.path.join(golden_dir, entries[0]["logits_last"]))
            checks["in_memory_model_max_logit_diff"] = float(abs(first - got).max())
        except Exception as e:
            checks["in_memory_model_max_logit_diff"] = f"failed: {e!r}"
    for e in entries:
        e.pop("_enc", None)

    import transformers
    golden = {
        "case": case["name"],
        "architecture": cls.__name__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "torch_dtype_saved": case["dtype"],
        "compute_dtype": "float32",
        "compute_device": device,
        "compute_note": ("weights loaded from the saved checkpoint and upcast to float32; "
                         "eager attention" + ("; TF32 disabled" if device != "cpu" else "")),
        "config_layout": case["layout"],
        "tie_word_embeddings": case["tied"],
        "seed": case["seed"],
        "image_seq_len": image_seq_len,
        "special_token_ids": sp,
        "greedy_rule": "argmax of the last-position logits for every step; no EOS stop, nothing "
                       "suppressed; image features only at the prefill (a generated <image> id "
                       "is embedded as a plain token); margins = top1 - top2 logit",
        "checks": checks,
        "requests": entries,
    }
    with open(os.path.join(golden_dir, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    margins = [m for e in entries for row in e["greedy_margins"] for m in row]
    summary = {
        "case": case["name"],
        "size_bytes": dir_size(case_dir),
        "requests_ok": [e["name"] for e in entries],
        "requests_failed": [r["name"] for r in case["requests"]
                            if r["name"] not in {e["name"] for e in entries}],
        "min_margin": min(margins) if margins else None,
        "min_margin_per_request": {e["name"]: min(min(r) for r in e["greedy_margins"])
                                   for e in entries},
        "generate_matches_greedy": {e["name"]: e.get("generate_matches_greedy") for e in entries},
        "checks": checks,
        "files": sorted(os.listdir(case_dir)),
        "weights": _try(tensor_summary, case_dir),
        "seconds": round(time.time() - t0, 1),
    }
    print("  summary:", json.dumps(summary, default=str))
    for e in entries:
        print(f"  {e['name']}: input_ids {[len(r) for r in e['input_ids']]}, "
              f"pixel_values {e.get('pixel_values_shape')}, rows {e['rows']} cols {e['cols']}, "
              f"greedy {e['greedy_text']!r}")
        if e.get("notes"):
            print(f"    notes: {e['notes']}")
    return summary, tok2


def print_file_heads(case_dir):
    for name in sorted(os.listdir(case_dir)):
        if name.endswith(".json") and name != "tokenizer.json" and not name.endswith("index.json"):
            with open(os.path.join(case_dir, name)) as f:
                text = f.read()
            print(f"  --- {name} ({len(text)} bytes)\n{text[:1500]}")


def main():
    args = parse_args()
    import numpy as np  # noqa: F401
    import hf_env

    hf_env.install_num2words_stub()
    import torch
    import transformers

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")

    from cases import CASES, DEMO, FULL_CASES
    from fixture_images import EXAMPLE_IMAGES, FULL_SIZE_IMAGES, TEST_IMAGES, write_images
    from small_tokenizer import build_tokenizer

    raw_tok = build_tokenizer()
    print(f"tokenizer: {raw_tok.get_vocab_size()} tokens (with added)")
    summaries = []

    if args.out:
        os.makedirs(args.out, exist_ok=True)
        images_dir = os.path.join(args.out, "images")
        write_images(TEST_IMAGES, images_dir)
        first_tok_dir = None
        for case in CASES:
            if args.only and case["name"] not in args.only:
                continue
            case_dir = os.path.join(args.out, case["name"])
            try:
                s, tok2 = make_case(case, case_dir, raw_tok, images_dir, args.steps, "cpu")
                summaries.append(s)
                if case["name"] == "idefics3_f32":
                    first_tok_dir = case_dir
                    from tokenizer_golden import write_tokenizer_cases
                    write_tokenizer_cases(tok2, os.path.join(case_dir, "tokenizer.json"),
                                          os.path.join(args.out, "tokenizer_cases.json"))
                print_file_heads(case_dir)
            except Exception:
                print(f"!! case {case['name']} FAILED")
                traceback.print_exc()
        if first_tok_dir is None:
            print("!! tokenizer_cases.json not written (idefics3_f32 missing)")

    if args.examples and (not args.only or DEMO["name"] in args.only):
        write_images(EXAMPLE_IMAGES, args.examples)
        try:
            s, _ = make_case(DEMO, os.path.join(args.examples, DEMO["name"]), raw_tok,
                             args.examples, args.steps, "cpu")
            summaries.append(s)
        except Exception:
            print("!! demo FAILED")
            traceback.print_exc()

    if args.full_size:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.set_float32_matmul_precision("highest")
        os.makedirs(args.full_size, exist_ok=True)
        images_dir = os.path.join(args.full_size, "images")
        write_images(FULL_SIZE_IMAGES, images_dir)
        for shape in args.full_cases.split(","):
            case = dict(FULL_CASES[shape])
            if args.full_seed is not None:
                case["seed"] = args.full_seed
            try:
                s, _ = make_case(case, os.path.join(args.full_size, case["name"]), raw_tok,
                                 images_dir, args.full_steps, device,
                                 vocab_size=case["vocab_size"])
                summaries.append(s)
            except Exception:
                print("!! full-size %s FAILED" % shape)
                traceback.print_exc()

    print("\n==== SUMMARY ====")
    for s in summaries:
        print(json.dumps({k: s[k] for k in ("case", "size_bytes", "min_margin", "requests_ok",
                                            "requests_failed", "seconds")}))


if __name__ == "__main__":
    main()
