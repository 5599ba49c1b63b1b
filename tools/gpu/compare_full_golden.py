#!/usr/bin/env python3
"""The key numbers of a full-size check, from `smolvk run --json --dump-logits` on the golden's
first request against the golden make_goldens.py wrote (used by tools/gpu/s12_family.sh; its
compare() by tools/reference/video_full_check.py):

    smolvk run --model DIR --image IMG --prompt TEXT --max-new-tokens N --ignore-eos \\
        --json --dump-logits L.npy > R.json
    compare_full_golden.py DIR R.json L.npy

Prints one line: input_ids equal, last-position logits max |Δ| and max |Δ| / max |ref| (the
FullSize test's measure), greedy ids equal k/N (and the first differing step), transformers'
smallest top-1 margin (and the margin where smolvk first differs), load GB/s. numpy only.
"""
import json
import os
import sys

import numpy as np


def first_request(golden):
    for r in golden["requests"]:
        if not r.get("direct_call") and r.get("images") and r["images"][0]:
            return r
    return golden["requests"][0]


def greedy_agreement(want, got, margins):
    """transformers' greedy ids `want` (top-1 `margins` per step) against `got`: greedy_equal
    "k/N", greedy_first_diff_step (None when all N agree; a short `got` differs where it ends),
    and margin_at_first_diff, transformers' margin there."""
    n = len(want)
    out = {"greedy_equal": f"{sum(1 for a, b in zip(want, got) if a == b)}/{n}"}
    diff = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), None)
    if diff is None and len(got) < n:
        diff = len(got)
    out["greedy_first_diff_step"] = diff
    if diff is not None and diff < len(margins):
        out["margin_at_first_diff"] = float(margins[diff])
    return out


def compare(want_ids, ref_logits, greedy, margins, run, logits_npy):
    """transformers' prompt ids, last-position logits, greedy ids and top-1 margins against a
    `smolvk run --json` result (`run`, parsed) and its --dump-logits file: input_ids equal (and
    where they first differ), logits max |diff| and max |diff| / max |ref|, greedy ids equal k/N,
    the first differing step and the margin there, the smallest margin and its step."""
    out = {}
    got_ids = run.get("input_ids", [])
    out["input_ids_equal"] = got_ids == want_ids
    out["input_ids_len"] = [len(want_ids), len(got_ids)]
    if got_ids != want_ids:
        out["input_ids_first_diff"] = next(
            (i for i, (a, b) in enumerate(zip(want_ids, got_ids)) if a != b), min(len(want_ids), len(got_ids)))

    ref = np.asarray(ref_logits, dtype=np.float64).reshape(-1)
    try:
        got = np.load(logits_npy).astype(np.float64).reshape(-1)
        if got.shape != ref.shape:
            out["logits"] = f"shape {got.shape} vs {ref.shape}"
        else:
            d = np.abs(got - ref)
            out["logits_max_abs"] = float(d.max())
            out["logits_max_rel"] = float(d.max() / max(np.abs(ref).max(), 1e-30))
            out["logits_argmax_equal"] = int(got.argmax()) == int(ref.argmax())
    except Exception as e:  # no logits written (smolvk failed)
        out["logits"] = f"unreadable: {e!r}"

    out.update(greedy_agreement(greedy, run.get("output_ids", []), margins))
    out["min_margin"] = float(min(margins)) if len(margins) else None
    out["min_margin_step"] = int(np.argmin(margins)) if len(margins) else None
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    case_dir, run_json, logits_npy = sys.argv[1:]
    with open(os.path.join(case_dir, "golden", "golden.json")) as f:
        golden = json.load(f)
    r = first_request(golden)
    with open(run_json) as f:
        run = json.load(f)
    out = {"case": golden.get("case"), "request": r["name"], "seed": golden.get("seed")}

    mask = r["attention_mask"][0]
    want_ids = [t for t, m in zip(r["input_ids"][0], mask) if m]
    ref = np.load(os.path.join(case_dir, "golden", r["logits_last"]))[0]
    out.update(compare(want_ids, ref, r["greedy_ids"][0], r["greedy_margins"][0], run, logits_npy))
    diff = out["greedy_first_diff_step"]

    load = run.get("load") or {}
    if load.get("ms") and load.get("weight_bytes"):
        out["load_GB"] = round(load["weight_bytes"] / 1e9, 2)
        out["load_s"] = round(load["ms"] / 1e3, 2)
        out["load_GBps"] = round(load["weight_bytes"] / 1e9 / (load["ms"] / 1e3), 2)
    t = run.get("timings") or {}
    out["smolvk_tiles"] = t.get("tiles")
    out["smolvk_first_token_ms"] = t.get("first_token_ms")

    ok = out["input_ids_equal"] and out.get("logits_max_rel", 1) <= 5e-3 and diff is None
    parts = [f"input_ids {'equal' if out['input_ids_equal'] else 'DIFFER at ' + str(out.get('input_ids_first_diff'))}"
             f" ({out['input_ids_len'][0]} tokens)"]
    if "logits_max_rel" in out:
        parts.append(f"logits max rel {out['logits_max_rel']:.2e} (abs {out['logits_max_abs']:.3g})")
    else:
        parts.append(f"logits {out.get('logits')}")
    parts.append(f"greedy {out['greedy_equal']}" + (f" (first diff at step {diff}, margin "
                                                    f"{out.get('margin_at_first_diff', float('nan')):.4g})"
                                                    if diff is not None else ""))
    if out["min_margin"] is not None:
        parts.append(f"min margin {out['min_margin']:.4g} at step {out['min_margin_step']}")
    if "load_GBps" in out:
        parts.append(f"load {out['load_GB']} GB in {out['load_s']} s = {out['load_GBps']} GB/s")
    print(("MATCH " if ok else "MISMATCH ") + " | ".join(parts))
    print("json " + json.dumps(out))


if __name__ == "__main__":
    main()
