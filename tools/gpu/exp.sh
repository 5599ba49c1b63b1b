#!/usr/bin/env bash
# Experiment run on the lent GPU machine: kernel correctness under validation, the matmul
# sweep, and the 17-tile / 8x13-tile / batched-decode benches. Binaries in $BIN, .gl carried.
# At most 8 files come back: bench_ops.txt, profile_17.txt, summary.txt, logs.tgz.
set -u
. "$(dirname "$0")/env.sh"
L=/tmp/exp-logs
mkdir -p "$L"
S="$OUT/summary.txt"
"$BIN/smolvk" info > "$L/info.txt" 2>&1
SMOLVK_VALIDATION=1 timeout 240 "$BIN/test_ops" --gtest_filter="${TEST_FILTER:-*Matmul*:*Coopmat*:*Attention*:Norm*}" > "$L/test_ops.log" 2>&1
echo "test_ops rc=$? $(grep -E '^\[  (PASSED|FAILED) ' "$L/test_ops.log" | tr '\n' ' ')" >> "$S"
grep -E '^\[  FAILED|Failure|Which is|Expected' "$L/test_ops.log" | head -20 >> "$S"
timeout 200 "$BIN/bench_ops" 5 ${BENCH_ARGS:---tiles} > "$OUT/bench_ops.txt" 2>&1; echo "bench_ops rc=$?" >> "$S"
"$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 4 --top 40 > "$OUT/profile_17.txt" 2>&1; echo "profile 17 rc=$?" >> "$S"
b() { local name=$1; shift; "$BIN/smolvk" bench --shape 256m --new-tokens 4 --reps 5 --no-cold-start "$@" > "$L/bench_$name.txt" 2>&1
      echo "== $name rc=$? $(grep -E 'image encode|prefill ms|first token|decode ms/step|tokens/s|peak' "$L/bench_$name.txt" | awk '{printf "%s | ", $0}')" >> "$S"; }
b 17 --tiles 17
SMOLVK_TUNE_VISION_CHUNK=32 b 17_onepass --tiles 17
SMOLVK_TUNE_HALF_ACTIVATIONS=0 b 17_f32act --tiles 17
b 8x13 --batch 8 --tiles 13
for n in 8 32; do
  b b$n --batch $n --tiles 1 --new-tokens 64 --reps 3
  SMOLVK_TUNE_COOPMAT_MIN_ROWS=8 b b${n}_tc --batch $n --tiles 1 --new-tokens 64 --reps 3
done
tar czf "$OUT/logs.tgz" -C "$L" .
cat "$S"
