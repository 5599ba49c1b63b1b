#!/usr/bin/env bash
# Session 8's run on the lent GPU machine (binaries in $BIN, .gl carried):
#   PART=tests bash tools/gpu/final_s8.sh   every GPU test under validation (continuous batching
#                                           included), then tools/bench/serve_bench.py on a
#                                           SmolVLM-256M-shaped checkpoint that transformers writes
#                                           (random bf16 weights), 1/8/32/64 clients, against
#                                           smolvk bench at the same batch
#   PART=tok   bash tools/gpu/final_s8.sh   the Llama-3 tokenizer golden (tokenizers library)
set -u
. "$(dirname "$0")/env.sh"
L=/tmp/final-logs; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-tests}" = tests ]; then
  [ -n "${SKIP_TESTS:-}" ] || for t in test_model test_ops; do
    f='*'; [ $t = test_ops ] && f=${OPS_FILTER:-*}
    SMOLVK_VALIDATION=1 timeout 200 "$BIN/$t" --gtest_filter="$f" > "$L/$t.log" 2>&1
    echo "$t (validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/$t.log" | tr '\n' ' ')" >> "$S"
    grep -E '^\[  FAILED|Failure|VUID' "$L/$t.log" | head -10 >> "$S"
  done
  # One tile per image, as serve_bench's requests mean (the published resize edge makes 17).
  python3 tools/bench/make_random_checkpoint.py --out /tmp/ck256 --resize-edge 512 > "$L/ckpt.log" 2>&1
  echo "checkpoint: rc=$? $(tail -1 "$L/ckpt.log")" >> "$S"
  mkdir -p /tmp/b/apps && ln -sf "$PWD/$BIN/smolvk" "$PWD/$BIN/smolvk-serve" /tmp/b/apps/
  timeout 240 python3 tools/bench/serve_bench.py --build /tmp/b --model /tmp/ck256 --clients 1,8,32,64 \
    --new-tokens 128 --json "$OUT/serve_bench.json" > "$OUT/serve_bench.txt" 2> "$L/serve_bench.err"
  echo "serve_bench: rc=$?" >> "$S"
  tail -3 "$L/serve_bench.err" >> "$S"
elif [ "$PART" = tok ]; then
  python3 tools/reference/make_llama3_tokenizer_golden.py > "$L/tok.log" 2>&1
  echo "llama3 tokenizer golden: rc=$?" >> "$S"
  tail -5 "$L/tok.log" >> "$S"
  tar czf "$OUT/llama3_tokenizer.tgz" tests/data/llama3_tokenizer
fi
tar czf "$OUT/logs.tgz" -C "$L" .
cat "$S"
