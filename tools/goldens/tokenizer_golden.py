"""tests/data/tokenizer_cases.json: ids and decoded text for every string in TOKENIZER_CASES."""
import json

from small_tokenizer import TOKENIZER_CASES


def write_tokenizer_cases(hf_tok, tokenizer_json, out_path):
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(tokenizer_json)
    cases, mismatches = [], 0
    for text in TOKENIZER_CASES:
        ids = hf_tok.encode(text, add_special_tokens=False)
        decoded = hf_tok.decode(ids, skip_special_tokens=False)
        case = {
            "text": text,
            "ids": [int(i) for i in ids],
            "decoded": decoded,
            "decoded_skip_special": hf_tok.decode(ids, skip_special_tokens=True),
        }
        raw_ids = raw.encode(text, add_special_tokens=False).ids
        raw_dec = raw.decode(raw_ids, skip_special_tokens=False)
        if raw_ids != case["ids"] or raw_dec != decoded:
            case["raw_tokenizers_ids"] = raw_ids
            case["raw_tokenizers_decoded"] = raw_dec
            mismatches += 1
        cases.append(case)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")
    roundtrip = sum(c["decoded"] == c["text"] for c in cases)
    print(f"  tokenizer cases: {len(cases)} strings, {roundtrip} round-trip exactly, "
          f"{mismatches} differ between transformers and raw tokenizers")
