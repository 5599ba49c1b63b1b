"""Tokenizers with the published checkpoints' special-token ids, for the full-size cases.

The merges are small (trained here, or the Llama-3-layout fixture's), but the model vocabulary
is padded with filler tokens that no text can produce, so that every special token sits at the
id the published tokenizer gives it and the model's vocab_size equals the tokenizer's size:

- "smollm2_published_ids" (SmolVLM-256M/500M-Instruct, SmolVLM2): SmolLM2's layout
  (small_tokenizer.py) with <|endoftext|> 0, <|im_start|> 1, <|im_end|> 2, model vocab up to
  49151, <global-img> 49152, <row_r_col_c> 49153 + 6(r-1) + (c-1), <fake_token_around_image>
  49189, <image> 49190, 88 reserved added tokens (their published names were not seen),
  <end_of_utterance> 49279: 49280 ids (shared/smolvlm-reference.md, "Prompt layout").
- "llama3_published_ids" (Idefics3-8B-Llama3): tests/data/llama3_tokenizer/'s merges and
  Llama-3 sections (Split regex pre-tokenizer, ignore_merges, the <|begin_of_text|> template),
  model vocab up to 127999, Llama-3.1's 256 special tokens at 128000..128255 (<|begin_of_text|>
  128000, <|end_of_text|> 128001, <|reserved_special_token_0|> 128002 = the published pad id,
  <|eom_id|> 128008, <|eot_id|> 128009), then the three tokens Idefics3Processor adds:
  <fake_token_around_image> 128256, <image> 128257, <end_of_utterance> 128258: 128259 ids, the
  published vocab_size (smolvlm-reference.md; generation_config.json in
  tests/data/configs/Idefics3-8B-Llama3). <global-img> and <row_r_col_c> are not tokens there
  (128256 + 3 leaves no room for them): the BPE splits them as text.

Needs only `tokenizers` (and transformers for wrap()).
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LLAMA3_FIXTURE = os.path.join(REPO, "tests", "data", "llama3_tokenizer", "tokenizer.json")

SMOLLM2 = "smollm2_published_ids"
LLAMA3 = "llama3_published_ids"
LAYOUTS = (SMOLLM2, LLAMA3)

FAKE, IMAGE, EOU, GLOBAL = "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"

# Ids every tokenizer of the layout must give (checked after building and after wrapping).
EXPECTED_IDS = {
    SMOLLM2: {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2, GLOBAL: 49152,
              "<row_1_col_1>": 49153, "<row_1_col_2>": 49154, "<row_2_col_1>": 49159,
              "<row_6_col_6>": 49188, FAKE: 49189, IMAGE: 49190, EOU: 49279},
    LLAMA3: {"<|begin_of_text|>": 128000, "<|end_of_text|>": 128001,
             "<|reserved_special_token_0|>": 128002, "<|eom_id|>": 128008, "<|eot_id|>": 128009,
             FAKE: 128256, IMAGE: 128257, EOU: 128258},
}
TOTAL_IDS = {SMOLLM2: 49280, LLAMA3: 128259}
# Strings that must not be single tokens in the layout (text, as published).
NOT_TOKENS = {SMOLLM2: [], LLAMA3: [GLOBAL, "<row_1_col_1>"]}


def filler(i):
    """Two byte-level spaces and four letters: no pre-tokenizer piece of either layout can be
    this (a letter run takes at most one leading non-letter), and no merge makes it, so no text
    ever encodes to it; it decodes to plain text."""
    if not 0 <= i < 26 ** 4:
        raise ValueError(f"filler index {i} out of range")
    s = ""
    for _ in range(4):
        s = chr(ord("a") + i % 26) + s
        i //= 26
    return "\u0120\u0120" + s


def _pad_vocab(vocab, size):
    """Fills the BPE vocab (token -> id, ids 0..n-1) with fillers up to `size` ids."""
    n = len(vocab)
    if sorted(vocab.values()) != list(range(n)):
        raise RuntimeError("the BPE vocab's ids are not 0..n-1")
    if n > size:
        raise RuntimeError(f"the BPE vocab has {n} tokens, more than {size}")
    for i in range(n, size):
        t = filler(i)
        if t in vocab:
            raise RuntimeError(f"filler {t!r} collides with a vocab token")
        vocab[t] = i


def _added(names):
    from tokenizers import AddedToken

    return [AddedToken(t, special=True, normalized=False) for t in names]


def _check(raw, layout):
    for name, want in EXPECTED_IDS[layout].items():
        got = raw.token_to_id(name)
        if got != want:
            raise RuntimeError(f"{layout}: {name} has id {got}, expected {want}")
    if raw.get_vocab_size(with_added_tokens=True) != TOTAL_IDS[layout]:
        raise RuntimeError(f"{layout}: {raw.get_vocab_size(with_added_tokens=True)} ids, "
                           f"expected {TOTAL_IDS[layout]}")
    for name in NOT_TOKENS[layout]:
        if raw.token_to_id(name) is not None:
            raise RuntimeError(f"{layout}: {name} should be text, not a token")


def smollm2_padded_spec(base_spec):
    """tokenizer.json of the SmolLM2 layout (base: the trained BPE with the base special tokens
    at 0..2 and no image tokens) with its model vocab padded to 49152 ids."""
    spec = json.loads(json.dumps(base_spec))
    spec["added_tokens"] = [t for t in spec.get("added_tokens", []) if t["id"] < 3]
    _pad_vocab(spec["model"]["vocab"], 49152)
    return spec


def smollm2_added_tokens():
    """Added in this order after the padded vocab: <global-img>, the 36 <row_r_col_c>,
    <fake_token_around_image>, <image> (small_tokenizer's order, the published one) at
    49152..49190, reserved tokens, <end_of_utterance> at 49279."""
    from small_tokenizer import image_special_tokens

    first = [t for t in image_special_tokens() if t != EOU]
    reserved = [f"<|reserved_special_token_{i}|>" for i in range(49279 - 49152 - len(first))]
    return first + reserved + [EOU]


def build_smollm2():
    from tokenizers import Tokenizer

    from small_tokenizer import build_tokenizer

    base = build_tokenizer(image_tokens=False)
    raw = Tokenizer.from_str(json.dumps(smollm2_padded_spec(json.loads(base.to_str()))))
    raw.add_special_tokens(_added(smollm2_added_tokens()))
    _check(raw, SMOLLM2)
    return raw


def llama31_special_tokens():
    """Llama-3.1's 256 special tokens, ids 128000..128255 in order."""
    named = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 4: "<|finetune_right_pad_id|>",
             6: "<|start_header_id|>", 7: "<|end_header_id|>", 8: "<|eom_id|>", 9: "<|eot_id|>",
             10: "<|python_tag|>"}
    out, r = [], 0
    for k in range(256):
        if k in named:
            out.append(named[k])
        else:
            out.append(f"<|reserved_special_token_{r}|>")
            r += 1
    return out


def _set_template_bos(node, bos, bos_id):
    """Points the post-processor's BOS (TemplateProcessing special_tokens) at bos_id."""
    if not isinstance(node, dict):
        return 0
    n = 0
    if node.get("type") == "TemplateProcessing":
        st = node.get("special_tokens", {}).get(bos)
        if st is not None:
            st["ids"] = [bos_id]
            n += 1
    for p in node.get("processors") or []:
        n += _set_template_bos(p, bos, bos_id)
    return n


def llama3_padded_spec():
    """tests/data/llama3_tokenizer/tokenizer.json with its model vocab padded to 128000 ids, no
    added tokens, and the template's BOS at 128000."""
    with open(LLAMA3_FIXTURE, encoding="utf-8") as f:
        spec = json.load(f)
    spec["added_tokens"] = []  # re-added at Llama-3.1's ids
    _pad_vocab(spec["model"]["vocab"], 128000)
    if _set_template_bos(spec.get("post_processor"), "<|begin_of_text|>", 128000) != 1:
        raise RuntimeError("the fixture's post-processor has no <|begin_of_text|> template")
    return spec


def llama3_added_tokens():
    """Added in this order after the padded vocab (ids 128000..128258)."""
    return llama31_special_tokens() + [FAKE, IMAGE, EOU]


def build_llama3():
    from tokenizers import Tokenizer

    raw = Tokenizer.from_str(json.dumps(llama3_padded_spec()))
    raw.add_special_tokens(_added(llama3_added_tokens()))
    _check(raw, LLAMA3)
    ids = raw.encode("hi").ids
    if not ids or ids[0] != 128000:
        raise RuntimeError(f"llama3 layout: encode('hi') = {ids}, expected <|begin_of_text|> first")
    return raw


def build(layout):
    if layout == SMOLLM2:
        return build_smollm2()
    if layout == LLAMA3:
        return build_llama3()
    raise ValueError(f"unknown tokenizer layout {layout!r} (expected one of {LAYOUTS})")


def wrap(raw, layout):
    """PreTrainedTokenizerFast (TokenizersBackend in 5.x) with the layout's special-token roles."""
    if layout == SMOLLM2:
        from small_tokenizer import wrap_tokenizer

        tok = wrap_tokenizer(raw)
    elif layout == LLAMA3:
        from hf_env import fast_tokenizer_class

        cls = fast_tokenizer_class()
        # Llama-3.1-Instruct's roles; no unk token; padding on the left for batches; the BOS
        # comes from the post-processor template (tokenizer_config.json has no add_bos_token).
        kw = dict(tokenizer_object=raw, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                  pad_token="<|reserved_special_token_0|>", padding_side="left",
                  clean_up_tokenization_spaces=True, model_max_length=131072)
        try:
            tok = cls(additional_special_tokens=[FAKE, IMAGE, EOU], **kw)
        except Exception as e:
            print(f"  tokenizer: additional_special_tokens rejected ({e!r}); without it")
            tok = cls(**kw)
    else:
        raise ValueError(f"unknown tokenizer layout {layout!r}")
    for name, want in EXPECTED_IDS[layout].items():
        got = tok.convert_tokens_to_ids(name)
        if got != want:
            raise RuntimeError(f"{layout} (wrapped): {name} has id {got}, expected {want}")
    if len(tok) != TOTAL_IDS[layout]:
        raise RuntimeError(f"{layout} (wrapped): len {len(tok)}, expected {TOTAL_IDS[layout]}")
    return tok


if __name__ == "__main__":
    # Without `tokenizers`: the padded tokenizer.json (no added tokens yet) and the tokens to
    # add, in order, for a check with another binding of the same library.
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="dump a layout's padded tokenizer.json and added tokens")
    ap.add_argument("layout", choices=LAYOUTS)
    ap.add_argument("out", help="writes OUT (tokenizer.json without added tokens) and OUT.added.json")
    ap.add_argument("--base", help="smollm2: a tokenizer.json of the small SmolLM2 layout "
                                   "(e.g. tests/data/idefics3_f32/tokenizer.json)")
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    if a.layout == LLAMA3:
        spec, added = llama3_padded_spec(), llama3_added_tokens()
    else:
        if not a.base:
            ap.error("smollm2 needs --base")
        with open(a.base, encoding="utf-8") as f:
            spec = smollm2_padded_spec(json.load(f))
        added = smollm2_added_tokens()
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    with open(a.out + ".added.json", "w") as f:
        json.dump({"added": added, "expected_ids": EXPECTED_IDS[a.layout],
                   "total": TOTAL_IDS[a.layout], "not_tokens": NOT_TOKENS[a.layout]}, f)
