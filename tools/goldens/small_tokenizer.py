"""A small byte-level BPE shaped like SmolLM2's (same pre-tokenizer, decoder, special tokens),
trained on the text below, plus the tokenizer golden strings."""

CORPUS = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps in the sun.",
    "User: Describe this image in detail. Assistant: The image shows a red circle, a green "
    "square and a blue triangle on a colourful gradient background.",
    "What is in the picture? There is a cat sitting on the table next to a cup of coffee.",
    "Can you read the text in this document? The title says Annual Report 2024.",
    "It's a sunny day and we're going to the park. They've said you'll like it, I'm sure.",
    "He'd rather stay at home. She's reading a book about the history of the world.",
    "def describe(image):\n    return model.generate(image, max_new_tokens=64)\n",
    "for i in range(10):\n    print(i * 2 + 1)\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 1999 2024 3.14159 2.71828",
    "The model reads the image, splits it into tiles and encodes each tile with a vision "
    "transformer. A connector maps the visual features into the language model.",
    "Question: How many people are in the photo? Answer: There are three people standing "
    "near the window, and one of them is holding an umbrella.",
    "The weather today is cloudy with a chance of rain in the afternoon and evening.",
    "Please summarise the following chart: sales increased from 120 to 180 units.",
    "A small house with a garden, trees, flowers and a white fence under a blue sky.",
    "café naïve résumé Zürich straße Ångström",
    "你好，世界。日本語のテキスト。한국어 문장。",
    "مرحبا بالعالم",
    "Привет мир! Ελληνικά.",
    "emoji: 😀 👍 ❤️ 🎉",
    "Hello, world! How are you? I'm fine, thanks. And you?",
    "the the the of of and and to to in in is is that that with with for for on on",
    "image images picture pictures photo photos describe describes description",
    "assistant user system answer question describe explain shows showing shown",
]

BASE_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def image_special_tokens():
    """Added after the trained vocabulary, in the order SmolVLM's tokenizer has them."""
    rows = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    return ["<global-img>"] + rows + ["<fake_token_around_image>", "<image>", "<end_of_utterance>"]


def build_tokenizer(vocab_size=512, image_tokens=True):
    """The trained BPE (base special tokens at ids 0..2); with image_tokens, SmolVLM's image
    special tokens added after it (published_tokenizers.py places them at the published ids
    instead)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=BASE_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    if image_tokens:
        tok.add_special_tokens(
            [AddedToken(t, special=True, normalized=False) for t in image_special_tokens()]
        )
    for i, t in enumerate(BASE_SPECIAL):
        if tok.token_to_id(t) != i:
            raise RuntimeError(f"{t} got id {tok.token_to_id(t)}, expected {i}")
    return tok


def wrap_tokenizer(raw):
    """PreTrainedTokenizerFast with SmolVLM's special-token roles."""
    from hf_env import fast_tokenizer_class

    cls = fast_tokenizer_class()
    kw = dict(
        tokenizer_object=raw,
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=8192,
    )
    try:
        return cls(
            additional_special_tokens=["<fake_token_around_image>", "<image>", "<end_of_utterance>"],
            **kw,
        )
    except Exception as e:
        print(f"  tokenizer: additional_special_tokens rejected ({e!r}); without it")
        return cls(**kw)


TOKENIZER_CASES = [
    "",
    "x",
    "Hello world",
    "hello",
    " leading space",
    "trailing space ",
    "The quick brown fox jumps over the lazy dog.",
    "UPPER lower MiXeD CaSe",
    "Hello, world! How's it going?",
    "a.b,c;d:e",
    "email@example.com",
    "https://example.com/path?q=1&r=2#frag",
    "C++ and C# and F#",
    "snake_case_name and camelCaseName",
    "(parentheses) [brackets] {braces} <angles>",
    "!!!???...",
    "----====____",
    "1234567890",
    "3.14159",
    "year 2024 and 1999",
    "x1y22z333",
    "-42 +7 1e10 0x1F",
    "phone: 555-0199",
    "a  b",
    "a   b    c",
    "       ",
    "a" + " " * 20 + "b",
    "tab\tseparated\tvalues",
    "\t\t\tindent",
    "line1\nline2",
    "\n",
    "\n\n\n",
    "para\n\n\npara",
    "trailing newline\n",
    " \n \n ",
    "mixed \t \n whitespace",
    "windows\r\nline",
    "    def f(x):\n        return x",
    "don't",
    "it's",
    "I'm",
    "we're",
    "they've",
    "you'll",
    "he'd",
    "It's John's book",
    "'s alone",
    "DON'T SHOUT",
    "'tis",
    "café",
    "naïve résumé",
    "Ångström",
    "Zürich straße",
    "Ελληνικά",
    "Привет мир",
    "e\u0301 combining accent",
    "\ufb01 ligature",
    "\u00a0non-breaking\u00a0space",
    "α+β=γ",
    "∑∫√∞",
    "😀",
    "I ❤️ NY",
    "👍🏽",
    "👨\u200d👩\u200d👧\u200d👦 family",
    "🏳️\u200d🌈",
    "🇫🇷🇯🇵",
    "emoji😀in😀text",
    "你好，世界",
    "日本語のテキスト",
    "한국어 문장",
    "漢字とカタカナ",
    "مرحبا بالعالم",
    "עברית",
    "हिन्दी",
    "a<image>b<end_of_utterance>",
    "<|im_start|>User: hi<end_of_utterance>\nAssistant:",
    "<fake_token_around_image><global-img><image><image><fake_token_around_image>",
    "<row_1_col_1><row_6_col_6>",
    "<image> spaced <image>",
    "<|endoftext|>",
    "not<special>token",
    "<image",
    "<<image>>",
    "<end_of_utterance>\n",
    "Tokenizer test: 42 apples, 3 pears — ok?",
]
