#!/usr/bin/env python3
"""Writes tests/data/llama3_tokenizer/: a small byte-level BPE tokenizer with Llama-3's
tokenizer.json sections, and what HF `tokenizers` makes of a stress corpus with it.

    python3 tools/reference/make_llama3_tokenizer_golden.py [--out tests/data/llama3_tokenizer]

Needs only the Python standard library and `tokenizers` (>= 0.19.1, the first with
`ignore_merges`); no network. Run it from the repository root, then re-run cmake (or just
build: the fixture is globbed with CONFIGURE_DEPENDS) so that test_loader picks up
tests/loader/test_tokenizer_llama3_golden.cpp.

What it writes:
- tokenizer.json: a BPE model trained here (vocab ~2000) on the multilingual text below, with
  the normalizer, pre_tokenizer, post_processor and decoder sections of Meta-Llama-3's
  tokenizer.json copied verbatim (only the BOS id in the template differs: ours, not 128000),
  the model's Llama-3 flags (ignore_merges true, byte_fallback false, ...), a few whole words
  added to the vocab that merges cannot reach (so ignore_merges matters), and the added
  special tokens <|begin_of_text|>, <|end_of_text|>, <|eot_id|> after the vocab.
- tokenizer_config.json: Llama-3's special-token roles (no add_bos_token, as Llama-3's has none:
  the BOS comes from the post-processor template).
- cases.json: [{"text", "ids", "decoded", "decoded_skip_special", "split", "pre_tokens"}] for
  every string of CASES: ids = encode(text, add_special_tokens=True).ids (BOS first),
  decoded = decode(ids, skip_special_tokens=False), decoded_skip_special likewise with True,
  split = the pieces of Llama-3's Split regex alone (pre_tokenize_str on the raw text),
  pre_tokens = the pieces of the whole pre_tokenizer (byte-level mapped), as the model sees them.

Where the sections come from: Meta-Llama-3-8B's tokenizer.json as quoted in
github.com/harrison-f-stropkay/prefix docs/notes.md (snapshot 8cde5ca8...), and the head of
Llama-3.1-8B-Instruct's tokenizer.json kept verbatim in github.com/ai-dynamo/dynamo
lib/llm/tests/data/sample-models/mock-llama-3.1-8b-instruct/tokenizer.json; both agree.
"""
import argparse
import json
import os
import sys

# Meta-Llama-3's split regex, exactly as in its tokenizer.json (there JSON-escaped).
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

BOS, EOS, EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"

LLAMA3_NORMALIZER = None

LLAMA3_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {
            "type": "Split",
            "pattern": {"Regex": LLAMA3_PATTERN},
            "behavior": "Isolated",
            "invert": False,
        },
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ],
}


def llama3_post_processor(bos_id):
    def special(type_id):
        return {"SpecialToken": {"id": BOS, "type_id": type_id}}

    def seq(name, type_id):
        return {"Sequence": {"id": name, "type_id": type_id}}

    return {
        "type": "Sequence",
        "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {
                "type": "TemplateProcessing",
                "single": [special(0), seq("A", 0)],
                "pair": [special(0), seq("A", 0), special(1), seq("B", 1)],
                "special_tokens": {BOS: {"id": BOS, "ids": [bos_id], "tokens": [BOS]}},
            },
        ],
    }


LLAMA3_DECODER = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}

# The model flags of Llama-3's "model" section (vocab and merges are ours).
LLAMA3_MODEL_FLAGS = {
    "type": "BPE",
    "dropout": None,
    "unk_token": None,
    "continuing_subword_prefix": None,
    "end_of_word_suffix": None,
    "fuse_unk": False,
    "byte_fallback": False,
    "ignore_merges": True,
}

# Whole words put into the vocab without merges: only ignore_merges makes them one token
# (Llama-3 has such words, e.g. " Việt" -> 101798, where merges give " Vi", "ệ", "t").
UNREACHABLE_WORDS = [" unbelievable", " Việt", "Việt", " tokenization", "👋🏽"]

TRAINING_TEXT = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps in the warm afternoon sun.",
    "User: Describe this image in detail.\nAssistant: The image shows a red circle, a green "
    "square and a blue triangle on a colourful gradient background.",
    "What is in the picture? There is a cat sitting on the table next to a cup of coffee.",
    "It's a sunny day and we're going to the park. They've said you'll like it; I'm sure he'd agree.",
    "IT'S LOUD. DON'T SHOUT. WE'LL SEE. THEY'RE HERE. YOU'VE GOT IT. I'D SAY I'M FINE.",
    "def describe(image):\n    return model.generate(image, max_new_tokens=64)\n\n",
    "for (int i = 0; i < 10; ++i) {\n\tsum += values[i] * 2;\n}\n",
    "import json\nwith open('data.json') as f:\n    data = json.load(f)  # read it\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 1999 2024 12345 3.14159 2.71828 1,000,000",
    "Price: $1,234.56 (approx.) -- 50% off!!! Call 555-0199 or e-mail someone@example.com.",
    "https://example.com/path/to/page?query=1&other=two#section",
    "Windows line endings\r\nare two characters\r\n\r\nlong.",
    "café naïve résumé Zürich straße Ångström façade coöperate",
    "Le renard brun rapide saute par-dessus le chien paresseux. C'est la vie, n'est-ce pas ?",
    "Der schnelle braune Fuchs springt über den faulen Hund. Grüße aus München!",
    "El rápido zorro marrón salta sobre el perro perezoso. ¿Qué tal? ¡Muy bien!",
    "Быстрая коричневая лиса прыгает через ленивую собаку. Привет, мир!",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. Ελληνικά κείμενα.",
    "你好，世界！今天天气很好。我们去公园散步吧。中文文本测试。",
    "日本語のテキスト。カタカナとひらがなと漢字が混ざっています。",
    "한국어 문장입니다. 안녕하세요, 세계!",
    "مرحبا بالعالم. هذا نص عربي قصير.",
    "שלום עולם. זהו טקסט בעברית.",
    "नमस्ते दुनिया। यह हिन्दी का एक छोटा वाक्य है।",
    "Xin chào Việt Nam! Tiếng Việt có nhiều dấu.",
    "emoji: 😀 👍 ❤️ 🎉 👋🏽 🇫🇷 🇯🇵 👨\u200d👩\u200d👧\u200d👦",
    "Mathematics: α + β = γ, ∑ x² ≤ ∞, ½ + ¼ = ¾, Ⅻ o'clock.",
    "the the the of of and and to to in in is is that that with with for for on on",
    "image images picture pictures photo photos describe describes description",
]

# The stress corpus: every category of Llama-3's regex, and ordinary text and code.
CASES = [
    "",
    "x",
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    " leading space",
    "trailing space ",
    # contractions (ASCII apostrophe only; case-insensitive)
    "I'm sure you're right: it's fine, we'll see, they've gone, he'd know, don't.",
    "DON'T SHOUT: IT'S LOUD, YOU'LL SEE, THEY'RE HERE, WE'VE GOT IT, I'D SAY, I'M OK",
    "MiXeD 'S 'Ll 'lL 'Re 'vE 'M 'D 'T 'x",
    "'s at the start, ''s doubled, rock'n'roll, 'tis",
    "curly apostrophes don\u2019t count: it\u2019s",
    "long s: x'\u017fa and '\u017f",
    "John's book's cover'S",
    # numbers: groups of at most three
    "1234567",
    "12345678901 and 1,234,567.89",
    "3.14159 2.71828",
    "x1y22z333w4444v55555",
    "year 2024, 1999 and 0007",
    "\u0663\u0664\u0665\u0666\u0667 Arabic-Indic digits",
    "\u00bd\u00be \u2154 \u216b \u2460\u2461\u2462\u2463 fractions, roman, circled",
    # whitespace runs before words and at the end
    "a  b   c    d",
    "word   ",
    "   leading spaces",
    "\tTab\tseparated\t\tvalues\t",
    "ideographic\u3000\u3000space and nbsp\u00a0here and em\u2003\u2003spaces",
    "       ",
    # newlines
    "line1\nline2\n\nline3\n\n\n",
    "windows\r\nline\r\n\r\nends\r\n",
    " \n \n x",
    "\r\r\n\n\r",
    "tabs\t\n\tmixed \t\n  in",
    "end\n",
    "\n",
    "NEL\u0085and\u2028line separator\u2029paragraph",
    # punctuation runs, with newlines after them, and after a leading space
    "Hello!!!\n\nNext...\r\nLast?!\n",
    " !? (x) ... [y]",
    "a -- b --\n\n-- c",
    "#include <stdio.h>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n",
    "Price: $1,234.56 (approx.) -- 50% off!!!",
    "C++ & C# == fun?",
    # CJK, other scripts
    "你好，世界！今天天气很好。",
    "日本語のテキスト、カタカナとひらがな",
    "한국어 문장입니다",
    "Привет, мир! Ελληνικά κείμενα.",
    "مرحبا بالعالم",
    "עברית",
    "हिन्दी का वाक्य",
    "Xin chào Việt Nam, tiếng Việt",
    # emoji
    "I \u2764\ufe0f NY \U0001f44b\U0001f3fd \U0001f1eb\U0001f1f7",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
    "emoji\U0001f600in\U0001f600text",
    # combining marks
    "cafe\u0301 nai\u0308ve",
    "e\u0301\u0302 two marks, \u0301 a lone mark",
    "a\u0300\u0301\u0302b",
    # control characters (\v and \f are \s; U+001C.. are not)
    "nul\x00byte \x01\x02 controls",
    "vt\x0bff\x0cend",
    "sep\x1c\x1d\x1e\x1fend",
    # ordinary English and code
    "Hello, world! How are you today? I hope everything is going well.",
    "    def f(x):\n        return x ** 2  # square\n",
    "for (int i = 0; i < 10; ++i) {\n\tsum += a[i];\n}",
    "https://example.com/path?q=1&r=2#frag",
    "snake_case_name and camelCaseName and SCREAMING_CASE",
    "email@example.com, user.name+tag@sub.domain.org",
    # whole words only ignore_merges keeps whole
    "an unbelievable tokenization",
    "Việt and \U0001f44b\U0001f3fd",
    # special tokens inside text
    "<|begin_of_text|>Hello<|eot_id|>",
    "a<|end_of_text|>b <|eot_id|> c",
    "<|begin_of_text|",
]


def bytes_to_unicode():
    """GPT-2's byte -> printable character map (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(
        range(ord("\u00ae"), ord("\u00ff") + 1)
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def byte_level(text):
    table = bytes_to_unicode()
    return "".join(table[b] for b in text.encode("utf-8"))


def build_tokenizer(vocab_size):
    import tokenizers
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(TRAINING_TEXT * 3 + CASES, trainer)

    spec = json.loads(tok.to_str())
    model = spec["model"]
    vocab = model["vocab"]
    next_id = max(vocab.values()) + 1
    for word in UNREACHABLE_WORDS:
        mapped = byte_level(word)
        if mapped not in vocab:
            vocab[mapped] = next_id
            next_id += 1
    bos_id = next_id
    spec["added_tokens"] = [
        {
            "id": bos_id + i,
            "content": content,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, content in enumerate([BOS, EOS, EOT])
    ]
    spec["normalizer"] = LLAMA3_NORMALIZER
    spec["pre_tokenizer"] = LLAMA3_PRE_TOKENIZER
    spec["post_processor"] = llama3_post_processor(bos_id)
    spec["decoder"] = LLAMA3_DECODER
    spec["model"] = dict(LLAMA3_MODEL_FLAGS, vocab=vocab, merges=model["merges"])
    text = json.dumps(spec, ensure_ascii=False, indent=2)
    final = Tokenizer.from_str(text)

    # The library must have kept what was written (an older one drops ignore_merges).
    back = json.loads(final.to_str())
    if back["model"].get("ignore_merges") is not True:
        sys.exit(f"this tokenizers ({tokenizers.__version__}) does not keep ignore_merges: need >= 0.19.1")
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        if back[key] != spec[key]:  # tokenizer.json keeps ours; this only says the library differs
            print(f"note: tokenizers {tokenizers.__version__} writes the {key} section back as {back[key]!r}")
    for word in UNREACHABLE_WORDS:
        ids = final.encode(word, add_special_tokens=False).ids
        if ids != [vocab[byte_level(word)]]:
            sys.exit(f"ignore_merges has no effect: {word!r} -> {ids}")
    if final.encode("x").ids[0] != bos_id:
        sys.exit("the template did not put <|begin_of_text|> first")
    return final, text, bos_id


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", default=os.path.join("tests", "data", "llama3_tokenizer"))
    p.add_argument("--vocab-size", type=int, default=2000)
    args = p.parse_args()

    import tokenizers
    from tokenizers import Regex, pre_tokenizers

    tok, text, bos_id = build_tokenizer(args.vocab_size)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text + "\n")

    added = {
        str(bos_id + i): {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for i, content in enumerate([BOS, EOS, EOT])
    }
    config = {
        "added_tokens_decoder": added,
        "bos_token": BOS,
        "clean_up_tokenization_spaces": True,
        "eos_token": EOS,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 131072,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
        f.write("\n")

    split = pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False)
    cases = []
    for s in CASES:
        ids = tok.encode(s, add_special_tokens=True).ids
        cases.append(
            {
                "text": s,
                "ids": ids,
                "decoded": tok.decode(ids, skip_special_tokens=False),
                "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
                "split": [piece for piece, _ in split.pre_tokenize_str(s)],
                "pre_tokens": [piece for piece, _ in tok.pre_tokenizer.pre_tokenize_str(s)],
            }
        )
    with open(os.path.join(args.out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")

    vocab = tok.get_vocab_size(with_added_tokens=True)
    roundtrip = sum(c["decoded"] == BOS + c["text"] for c in cases)
    print(f"tokenizers {tokenizers.__version__}: vocab {vocab} (BOS {bos_id}), {len(cases)} cases "
          f"({roundtrip} decode to BOS + text) -> {args.out}")


if __name__ == "__main__":
    main()
