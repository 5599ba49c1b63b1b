"""Runs one request through transformers and writes its golden arrays (.npy) + JSON entry."""
import os
import traceback

import jinja2
import numpy as np
import torch
from PIL import Image


def render_template(template, conv, processor=None):
    """The prompt as transformers renders it; also rendered with plain jinja2 as a check."""
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    by_jinja = env.from_string(template).render(messages=conv, add_generation_prompt=True)
    if processor is None:
        return by_jinja, None
    try:
        text = processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        if isinstance(text, list):
            text = text[0]
    except Exception as e:
        return by_jinja, f"processor.apply_chat_template failed: {e!r}"
    note = None if text == by_jinja else f"jinja2 render differs: {by_jinja!r}"
    return text, note


def load_image(path):
    im = Image.open(path)
    im.load()
    return im


class Capture:
    """Grabs vision post-layernorm output, connector output and merged input embeddings of
    the first forward pass (the prefill)."""

    def __init__(self, model):
        self.on = True
        self.data = {}
        inner = model.model
        self.handles = [
            inner.vision_model.post_layernorm.register_forward_hook(
                lambda m, i, o: self._put("vision_out", o)),
            inner.connector.register_forward_hook(lambda m, i, o: self._put("connector_out", o)),
            inner.text_model.register_forward_pre_hook(self._pre, with_kwargs=True),
        ]

    def _put(self, key, value):
        if self.on and key not in self.data and torch.is_tensor(value):
            self.data[key] = value.detach().float().cpu().numpy()

    def _pre(self, module, args, kwargs):
        self._put("inputs_embeds", kwargs.get("inputs_embeds"))

    def close(self):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def greedy(model, enc, steps, device, capture=None):
    """Pure argmax for `steps` tokens (no stopping, nothing suppressed), full recompute each
    step; positions = cumsum(attention_mask) - 1 (padding positions 1), as generate() does.
    Image features enter at the prefill only: later steps reuse the prefill's merged
    embeddings and append plain token embeddings, so a generated <image> id is just a token
    (as in generate(), which drops pixel_values after the first step)."""
    ids = enc["input_ids"].to(device)
    mask = enc["attention_mask"].to(device)
    extra = {}
    if enc.get("pixel_values") is not None:
        extra["pixel_values"] = enc["pixel_values"].to(device, torch.float32)
        if enc.get("pixel_attention_mask") is not None:
            extra["pixel_attention_mask"] = enc["pixel_attention_mask"].to(device)
    grabbed = {}

    def grab(module, args, kwargs):
        if "embeds" not in grabbed and kwargs.get("inputs_embeds") is not None:
            grabbed["embeds"] = kwargs["inputs_embeds"].detach()

    embed = model.get_input_embeddings()
    new_ids, margins, first, embeds = [], [], None, None
    for step in range(steps):
        pos = mask.long().cumsum(-1) - 1
        pos.masked_fill_(mask == 0, 1)
        if step == 0:
            hook = model.model.text_model.register_forward_pre_hook(grab, with_kwargs=True)
            try:
                out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False,
                            **extra)
            finally:
                hook.remove()
            embeds = grabbed["embeds"]
        else:
            out = model(inputs_embeds=embeds, attention_mask=mask, position_ids=pos,
                        use_cache=False)
        logits = out.logits[:, -1, :].float()
        if step == 0:
            first = logits.cpu().numpy()
            if capture is not None:
                capture.on = False
        top = torch.topk(logits, 2, dim=-1)
        nxt = top.indices[:, 0]
        new_ids.append(nxt.cpu())
        margins.append((top.values[:, 0] - top.values[:, 1]).cpu())
        embeds = torch.cat([embeds, embed(nxt)[:, None, :].to(embeds.dtype)], dim=1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    gids = torch.stack(new_ids, 1).tolist()
    gm = torch.stack(margins, 1).tolist()
    return first, gids, gm


@torch.no_grad()
def generate_crosscheck(model, enc, greedy_ids, steps, device, eos_ids):
    """generate() with the KV cache must agree with the recomputed argmax up to its first stop."""
    try:
        kw = {k: v.to(device) for k, v in enc.items() if torch.is_tensor(v)}
        if "pixel_values" in kw:
            kw["pixel_values"] = kw["pixel_values"].float()
        out = model.generate(**kw, max_new_tokens=steps, do_sample=False)
        new = out[:, enc["input_ids"].shape[1]:].tolist()
        for row_gen, row_ref in zip(new, greedy_ids):
            for a, b in zip(row_gen, row_ref):
                if a != b:
                    return False
                if b in eos_ids:
                    break
        return True
    except Exception as e:
        print(f"    generate() cross-check failed to run: {e!r}")
        return None


def save_npy(golden_dir, fname, arr):
    np.save(os.path.join(golden_dir, fname), np.ascontiguousarray(arr))
    return fname


def expand_prompt(prompt, rows, cols, seq_len):
    """The processor's image expansion (used only when the processor disagrees with its own
    image processor; see fix_image_tokens)."""
    fake, image, glob = "<fake_token_around_image>", "<image>", "<global-img>"
    parts = prompt.split(image)
    if len(parts) != len(rows) + 1:
        raise RuntimeError(f"{len(parts) - 1} <image> in prompt, {len(rows)} images")
    out = parts[0]
    for i, (r, c) in enumerate(zip(rows, cols)):
        block = ""
        if r == 0 and c == 0:
            block = fake + glob + image * seq_len + fake
        else:
            for y in range(r):
                for x in range(c):
                    block += f"{fake}<row_{y + 1}_col_{x + 1}>" + image * seq_len
                block += "\n"
            block += "\n" + fake + glob + image * seq_len + fake
        out += block + parts[i + 1]
    return out


def fix_image_tokens(ctx, enc, prompts, rows, cols, entry, notes):
    """The model needs exactly tiles x image_seq_len <image> tokens per row. If the processor's
    text expansion disagrees with the tiles its image processor returned, note it and expand
    the prompt from the image processor's rows/cols instead."""
    isl = ctx["image_seq_len"]
    want = [sum((r * c + 1) if (r or c) else 1 for r, c in zip(rr, cc)) * isl
            for rr, cc in zip(rows, cols)]
    got = None
    if "input_ids" in enc:
        got = (enc["input_ids"] == ctx["image_token_id"]).sum(1).tolist()
        if got == want:
            return
        notes.append(f"processor expanded {got} <image> tokens per row but its image processor "
                     f"returned tiles for {want}; processor text (decoded): "
                     + repr(ctx["tokenizer"].decode(enc["input_ids"][0]))[:3000])
    expanded = [expand_prompt(p, rr, cc, isl) for p, rr, cc in zip(prompts, rows, cols)]
    t = ctx["tokenizer"](expanded, return_tensors="pt", padding=True)
    enc["input_ids"], enc["attention_mask"] = t["input_ids"], t["attention_mask"]
    entry["processor_path"] = ("image processor + prompt expanded from its rows/cols "
                               "(processor text expansion disagreed)")
    entry["processor_image_tokens_per_row"] = got
    print(f"    !! {entry['name']}: processor expansion {got} != tiles {want}; expanded by hand")


def run_request(ctx, req):
    """ctx: model, processor, tokenizer, device, steps, golden_dir, image_seq_len, eos_ids.
    req: name, convs (one conversation per batch row) + images (names per row) + images_dir,
    or `direct` (prompt_text + pixel arrays made by hand)."""
    name = req["name"]
    entry = {"name": name}
    notes = []
    proc, tok = ctx["processor"], ctx["tokenizer"]
    if "direct" in req:
        d = req["direct"]
        prompts = [d["prompt_text"]]
        enc = dict(tok(prompts, return_tensors="pt"))
        enc["pixel_values"] = torch.from_numpy(d["pixel_values"])
        enc["pixel_attention_mask"] = torch.from_numpy(d["pixel_attention_mask"])
        rows, cols = [[0]], [[0]]
        entry.update(messages=None, images=[[d["source_image"]]], images_dir=req["images_dir_rel"],
                     direct_call=True, valid_region=d["valid_region"])
        entry["processor_path"] = "hand-made pixel_values/pixel_attention_mask, tokenizer only"
    else:
        prompts = []
        for conv in req["convs"]:
            text, note = render_template(ctx["chat_template"], conv, proc)
            prompts.append(text)
            if note:
                notes.append(note)
        imgs = [[load_image(os.path.join(req["images_dir"], n)) for n in row]
                for row in req["images"]]
        has_images = any(len(r) for r in imgs)
        kwargs = dict(text=prompts, return_tensors="pt", padding=True)
        if has_images:
            kwargs["images"] = imgs
        entry["processor_path"] = type(proc).__name__ + ".__call__"
        try:
            enc = dict(proc(**kwargs))
        except Exception as e:
            if not has_images:
                raise
            notes.append(f"processor() failed: {e!r}")
            enc = {}
        rows = cols = None
        if has_images:
            ipo = proc.image_processor(imgs, return_row_col_info=True, return_tensors="pt")
            rows = [[int(x) for x in r] for r in ipo["rows"]]
            cols = [[int(x) for x in r] for r in ipo["cols"]]
            if "pixel_values" not in enc:
                enc["pixel_values"] = ipo["pixel_values"]
                if "pixel_attention_mask" in ipo:
                    enc["pixel_attention_mask"] = ipo["pixel_attention_mask"]
            elif not torch.equal(ipo["pixel_values"].float(), enc["pixel_values"].float()):
                notes.append("image_processor() and processor() pixel_values differ")
            fix_image_tokens(ctx, enc, prompts, rows, cols, entry, notes)
        entry.update(messages=req["convs"], images=req["images"], images_dir=req["images_dir_rel"])
    entry["prompt_text"] = prompts
    if "attention_mask" not in enc:
        enc["attention_mask"] = torch.ones_like(enc["input_ids"])
    enc = {k: v for k, v in enc.items() if torch.is_tensor(v)}
    ids = enc["input_ids"]
    entry["input_ids"] = ids.tolist()
    entry["attention_mask"] = enc["attention_mask"].tolist()
    entry["position_ids_rule"] = "cumsum(attention_mask) - 1, padding positions set to 1"
    gdir = ctx["golden_dir"]
    pv = enc.get("pixel_values")
    if pv is not None:
        entry["pixel_values"] = save_npy(gdir, f"{name}.pixel_values.npy", pv.float().numpy())
        pam = enc.get("pixel_attention_mask")
        if pam is None:
            pam = torch.ones(pv.shape[0], pv.shape[1], pv.shape[3], pv.shape[4])
        entry["pixel_attention_mask"] = save_npy(gdir, f"{name}.pixel_attention_mask.npy",
                                                 pam.numpy().astype(np.uint8))
        entry["pixel_values_shape"] = list(pv.shape)
        flat = pv.reshape(pv.shape[0] * pv.shape[1], -1)
        entry["num_real_tiles"] = int(((flat == 0).sum(1) != flat.shape[1]).sum())
    else:
        entry["pixel_values"] = entry["pixel_attention_mask"] = None
    entry["rows"], entry["cols"] = rows, cols
    entry["image_seq_len"] = ctx["image_seq_len"]
    n_img = (ids == ctx["image_token_id"]).sum(1).tolist()
    entry["image_tokens_per_row"] = n_img

    print(f"    {name}: <image> tokens per row {n_img}, real tiles {entry.get('num_real_tiles')}, "
          f"rows {rows} cols {cols}")
    capture = Capture(ctx["model"]) if pv is not None else None
    try:
        first, gids, gm = greedy(ctx["model"], enc, ctx["steps"], ctx["device"], capture)
    finally:
        if capture:
            capture.close()
    entry["logits_last"] = save_npy(gdir, f"{name}.logits_last.npy", first.astype(np.float32))
    entry["greedy_ids"] = gids
    entry["greedy_margins"] = gm
    try:
        entry["greedy_text"] = [tok.decode(r, skip_special_tokens=False) for r in gids]
    except Exception as e:  # ids past the tokenizer (full-size vocab) may not decode
        entry["greedy_text"] = None
        notes.append(f"decode failed: {e!r}")
    if capture:
        for key in ("vision_out", "connector_out", "inputs_embeds"):
            if key in capture.data:
                entry[key] = save_npy(gdir, f"{name}.{key}.npy", capture.data[key])
                entry[key + "_shape"] = list(capture.data[key].shape)
            else:
                notes.append(f"hook did not capture {key}")
    if ctx.get("crosscheck_generate", True):
        entry["generate_matches_greedy"] = generate_crosscheck(
            ctx["model"], enc, gids, ctx["steps"], ctx["device"], ctx["eos_ids"])
    if notes:
        entry["notes"] = notes
    entry["_enc"] = enc  # removed before writing; used for cross-checks
    return entry


def safe_run(ctx, req):
    try:
        return run_request(ctx, req)
    except Exception:
        print(f"  !! request {req['name']} FAILED")
        traceback.print_exc()
        return None
