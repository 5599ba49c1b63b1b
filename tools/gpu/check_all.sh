#!/usr/bin/env bash
# On the lent GPU machine (see ../shared/gpu-device.md), from the repository root, with the
# binaries in $BIN (copied out of a Release build here) and .gl carried:
#   bash tools/gpu/check_all.sh
# Runs the test binaries on the GPU with validation, makes the SmolVLM-256M-shaped golden with
# transformers, checks smolvk against it and times a 13-tile request. Results land in $OUT.
set -u
. "$(dirname "$0")/env.sh"
nvidia-smi -L
"$BIN/smolvk" info | tee "$OUT/info.txt"
"$BIN/smolvk" info --json > "$OUT/info.json"
for t in test_runtime test_ops test_model; do
  SMOLVK_VALIDATION=1 "$BIN/$t" > "$OUT/$t.log" 2>&1; echo "$t (validation): rc=$? $(tail -3 "$OUT/$t.log" | tr '\n' ' ')"
done
SMOLVK_VALIDATION=1 SMOLVK_PORTABLE=1 "$BIN/test_ops" > "$OUT/test_ops_portable.log" 2>&1
echo "test_ops portable: rc=$? $(tail -2 "$OUT/test_ops_portable.log" | tr '\n' ' ')"
FULL=/tmp/full
PYTHONUNBUFFERED=1 python3 tools/goldens/make_goldens.py --full-size $FULL > "$OUT/full_golden.log" 2>&1
echo "full-size golden: rc=$? $(grep -A3 SUMMARY "$OUT/full_golden.log" | tail -2)"
M=$FULL/full_size_256m
SMOLVK_FULL_GOLDEN=$M "$BIN/test_model" --gtest_filter='FullSize*' > "$OUT/full_check.log" 2>&1
echo "full-size check: rc=$? $(grep -E 'OK|FAILED|Failure|rel|Which is' "$OUT/full_check.log" | head -12 | tr '\n' ' ')"
for i in 1 2; do
  "$BIN/smolvk" run --model $M --image $FULL/images/photo_1000x700.png --prompt "Describe this image." \
    --max-new-tokens 32 --ignore-eos --json > "$OUT/run$i.json" 2> "$OUT/run$i.err"
  echo "run $i: $(python3 -c "import json;d=json.load(open('$OUT/run$i.json'));print(d['timings'])")"
done
