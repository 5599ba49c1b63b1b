#!/usr/bin/env bash
# Session 7's closing run on the lent GPU machine (binaries in $BIN, .gl carried), in two parts
# that each fit one 10-minute call:
#   PART=tests bash tools/gpu/final_s7.sh  every GPU test under validation (the flash kernel also at
#                                          one row fragment, the vision GELU also unfused), the
#                                          17-tile profile, and the repeated-image first token
#   PART=side  bash tools/gpu/final_s7.sh  tools/bench/side_by_side.py against transformers
set -u
. "$(dirname "$0")/env.sh"
L=/tmp/final-logs; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-tests}" = tests ]; then
  for t in test_runtime test_ops test_model; do
    SMOLVK_VALIDATION=1 timeout 240 "$BIN/$t" > "$L/$t.log" 2>&1
    echo "$t (validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/$t.log" | tr '\n' ' ')" >> "$S"
    grep -E '^\[  FAILED|Failure|VUID' "$L/$t.log" | head -10 >> "$S"
  done
  SMOLVK_TUNE_ATTN_FLASH_ROW_FRAGS=1 SMOLVK_VALIDATION=1 timeout 60 "$BIN/test_ops" --gtest_filter='AttentionCoopmat.Flash*' > "$L/rf1.log" 2>&1
  echo "flash, 1 row fragment: rc=$? $(grep -E '^\[  (PASSED|FAILED) ' "$L/rf1.log" | tr '\n' ' ')" >> "$S"
  SMOLVK_TUNE_FUSE_LINEAR_GELU=0 SMOLVK_VALIDATION=1 timeout 120 "$BIN/test_model" > "$L/gelu0.log" 2>&1
  echo "test_model, GELU unfused: rc=$? $(grep -E '^\[  (PASSED|FAILED) ' "$L/gelu0.log" | tr '\n' ' ')" >> "$S"
  "$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 4 --warmup 3 --top 12 > "$OUT/profile_17tiles.txt" 2>&1
  echo "profile 17 tiles: rc=$?" >> "$S"
  for c in "--tiles 17" "--tiles 17 --image-cache" "--batch 8 --tiles 13" "--batch 8 --tiles 13 --image-cache"; do
    n=$(echo "$c" | tr -d ' -'); "$BIN/smolvk" bench --shape 256m --new-tokens 4 --reps 7 --no-cold-start $c > "$L/bench_$n.txt" 2>&1
    echo "bench $c: rc=$? $(grep -E 'image encode ms|time to first token' "$L/bench_$n.txt" | awk '{printf "%s | ", $0}')" >> "$S"
  done
  "$BIN/smolvk" bench --shape 256m --tiles 1 --batch 32 --new-tokens 64 --reps 3 --no-cold-start > "$L/bench_b32.txt" 2>&1
  echo "bench b32: $(grep -E 'decode' "$L/bench_b32.txt" | awk '{printf "%s | ", $0}')" >> "$S"
else
  timeout 560 python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --reps 3 --warmup 1 \
    --batched-prefill 8x13,32x1 --json-out "$L/side_by_side.json" > "$OUT/side_by_side.txt" 2>&1
  echo "side by side: rc=$?" >> "$S"
fi
tar czf "$OUT/logs.tgz" -C "$L" .
cat "$S"
