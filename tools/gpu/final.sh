#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, binaries in $BIN, .gl carried:
#   bash tools/gpu/final.sh            (everything; may run past one 10-minute call)
#   PART=tests bash tools/gpu/final.sh (tests with validation, the SmolVLM-256M golden, bench_ops)
#   PART=perf bash tools/gpu/final.sh  (bench + profile + traces, the side-by-side run)
# Everything an issue's closing note needs, in at most 8 result files. Summary lines go to
# stdout; logs are bundled into logs.tgz.
set -u
. "$(dirname "$0")/env.sh"
L=/tmp/final-logs
mkdir -p "$L"
PART=${PART:-all}
"$BIN/smolvk" info > "$OUT/info.txt" 2>&1
if [ "$PART" != perf ]; then
  for t in test_runtime test_ops test_model; do
    SMOLVK_VALIDATION=1 "$BIN/$t" > "$L/$t.log" 2>&1
    echo "$t (validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/$t.log" | tr '\n' ' ')"
    grep -E '^\[  FAILED' "$L/$t.log" | head -10
  done
  SMOLVK_VALIDATION=1 SMOLVK_PORTABLE=1 "$BIN/test_ops" > "$L/test_ops_portable.log" 2>&1
  echo "test_ops portable: rc=$? $(grep -E '^\[  (PASSED|FAILED) ' "$L/test_ops_portable.log" | tr '\n' ' ')"

  FULL=/tmp/full
  PYTHONUNBUFFERED=1 timeout 240 python3 tools/goldens/make_goldens.py --full-size $FULL > "$L/full_golden.log" 2>&1
  echo "full-size golden: rc=$?"
  SMOLVK_FULL_GOLDEN=$FULL/full_size_256m "$BIN/test_model" --gtest_filter='FullSize*' > "$L/full_check.log" 2>&1
  echo "full-size check: rc=$? $(grep -E 'OK|FAILED|Failure|rel|Which' "$L/full_check.log" | head -8 | tr '\n' ' ')"
  timeout 200 "$BIN/bench_ops" 5 --tiles > "$OUT/bench_ops.txt" 2>&1
  echo "bench_ops: rc=$?"
fi
if [ "$PART" != tests ]; then
  "$BIN/smolvk" bench --shape 256m --tiles 1 --new-tokens 64 --profile --top 10 --trace "$L/trace_b1.json" \
    > "$OUT/bench_b1.txt" 2>&1
  echo "bench b1: rc=$?"
  "$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 4 --warmup 5 --top 12 --trace "$L/trace_17tiles.json" \
    > "$OUT/profile_17tiles.txt" 2>&1
  echo "profile 17 tiles: rc=$?"
  timeout 420 python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --reps 3 --warmup 1 \
    --json-out "$L/side_by_side.json" > "$OUT/side_by_side.txt" 2>&1
  echo "side by side: rc=$?"
fi
tar czf "$OUT/logs.tgz" -C "$L" .
