#!/usr/bin/env bash
# Session 9's run on the lent GPU machine (binaries in $BIN, .gl carried), two calls:
#   PART=tests bash tools/gpu/final_s9.sh  the model tests and the patch / tensor-core op tests
#                                          under validation (byte pixels normalized on the
#                                          device), the 17-tile and 8x13 benches, then
#                                          serve_bench on a SmolVLM-256M-shaped checkpoint that
#                                          transformers writes, per server configuration in
#                                          $SERVE (default: --join-window-ms 20, then 0)
#   PART=side  bash tools/gpu/final_s9.sh  tools/bench/side_by_side.py against transformers
set -u
. "$(dirname "$0")/env.sh"
L=/tmp/final-logs; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-tests}" = tests ]; then
  [ -n "${SKIP_TESTS:-}" ] || for t in test_model test_ops; do
    f='*'; [ $t = test_ops ] && f=${OPS_FILTER:-Patch.*:MatmulCoopmat*:AttentionCoopmat*}
    SMOLVK_VALIDATION=1 timeout 200 "$BIN/$t" --gtest_filter="$f" > "$L/$t.log" 2>&1
    echo "$t (validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/$t.log" | tr '\n' ' ')" >> "$S"
    grep -E '^\[  FAILED|Failure|VUID' "$L/$t.log" | head -10 >> "$S"
  done
  for c in "--tiles 17" "--batch 8 --tiles 13"; do
    n=$(echo "$c" | tr -d ' -'); "$BIN/smolvk" bench --shape 256m --new-tokens 4 --reps 7 --no-cold-start $c > "$L/bench_$n.txt" 2>&1
    echo "bench $c: rc=$? $(grep -E 'image encode ms|time to first token|upload' "$L/bench_$n.txt" | awk '{printf "%s | ", $0}')" >> "$S"
  done
  python3 tools/bench/make_random_checkpoint.py --out /tmp/ck256 --resize-edge 512 > "$L/ckpt.log" 2>&1
  echo "checkpoint: rc=$? $(tail -1 "$L/ckpt.log")" >> "$S"
  mkdir -p /tmp/b/apps && ln -sf "$PWD/$BIN/smolvk" "$PWD/$BIN/smolvk-serve" /tmp/b/apps/
  # SERVE: name=flags[,flags] entries (commas for spaces); the first run also times smolvk bench.
  nb=""
  for v in ${SERVE:-jw20=--join-window-ms,20 jw0=--join-window-ms,0}; do
    name=${v%%=*}; flags=${v#*=}
    timeout ${SERVE_TIMEOUT:-200} python3 tools/bench/serve_bench.py --build /tmp/b --model /tmp/ck256 \
      --clients ${CLIENTS:-8,32,64} $nb --new-tokens 128 --rounds ${ROUNDS:-3} --server-args "${flags//,/ }" \
      --json "$OUT/serve_$name.json" > "$OUT/serve_$name.txt" 2> "$L/serve_$name.err"
    echo "serve_bench $name ($flags): rc=$?" >> "$S"; cat "$OUT/serve_$name.txt" >> "$S"
    nb=--no-bench
  done
else
  timeout 560 python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --reps 3 --warmup 1 \
    --batched-prefill 8x13,32x1 --json-out "$L/side_by_side.json" > "$OUT/side_by_side.txt" 2>&1
  echo "side by side: rc=$?" >> "$S"
fi
tar czf "$OUT/logs.tgz" -C "$L" .
cat "$S"
