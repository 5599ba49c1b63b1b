#!/usr/bin/env bash
# Session 11's runs on the lent GPU machine (binaries in $BIN, .gl carried):
#   PART=profile bash tools/gpu/s11.sh  decode-step profiles at batch 1 / 8 / 32 and the 17-tile
#                                       profile (per layer op); with $TILES a tensor-core tile
#                                       sweep on the vision and prefill GEMMs (into logs.tgz)
#   PART=bench   bash tools/gpu/s11.sh  the tensor-core op tests and test_model under validation,
#                                       then smolvk bench (decode at batch 1 / 8 / 32, first token
#                                       at 1 / 17 / 8x13 tiles) per kernel-policy variant in
#                                       $VARIANTS ("name=SMOLVK_TUNE_X=v,SMOLVK_TUNE_Y=w ...")
#   PART=final   bash tools/gpu/s11.sh  the closing run: test_model and the tensor-core op tests
#                                       under validation, then side_by_side.py against transformers
#   CLIENTS=1,32 (any part)             serve_bench afterwards
#   FULL_CASES=2.2b (any part)          make_goldens.py --full-size for those shapes, then
#                                       FullSize.MatchesTransformers on each
set -u
. "$(dirname "$0")/env.sh"
L=/tmp/s11-logs; mkdir -p "$L"
S=$OUT/summary.txt
P=${PROFILE_ARGS:-}
if [ "${PART:-profile}" = profile ]; then
  for b in 1 8 32; do
    "$BIN/smolvk" profile --shape 256m --tiles 1 --batch $b --new-tokens 8 --top 40 $P > "$L/profile_b$b.txt" 2>&1
    echo "profile b$b rc=$? $(grep -E '^phase decode' "$L/profile_b$b.txt")" >> "$S"
  done
  "$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 4 --top 40 $P > "$L/profile_17.txt" 2>&1
  echo "profile 17 rc=$? $(grep -E '^phase' "$L/profile_17.txt" | tr '\n' ' ')" >> "$S"
  if [ -n "${TILES:-}" ]; then
    args=(); for t in $TILES; do args+=(--tile "$t"); done
    timeout 150 "$BIN/bench_ops" 3 "${args[@]}" > "$L/sweep_vision.txt" 2>&1; echo "sweep vision rc=$?" >> "$S"
    timeout 150 "$BIN/bench_ops" 3 "${args[@]}" --prefill --rows 1108 > "$L/sweep_prefill.txt" 2>&1; echo "sweep prefill rc=$?" >> "$S"
  fi
elif [ "${PART}" = bench ]; then
  [ -n "${SKIP_TESTS:-}" ] || for t in test_ops test_model; do
    f='*'; [ $t = test_ops ] && f=${OPS_FILTER:-MatmulCoopmat*:AttentionCoopmat*:Matmul.*}
    SMOLVK_VALIDATION=1 timeout 240 "$BIN/$t" --gtest_filter="$f" > "$L/$t.log" 2>&1
    echo "$t (validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/$t.log" | tr '\n' ' ')" >> "$S"
    grep -E '^\[  FAILED|Failure|VUID' "$L/$t.log" | head -10 >> "$S"
  done
  for v in ${VARIANTS:-base=}; do
    name=${v%%=*}; envs=${v#*=}
    (
      [ -n "$envs" ] && export ${envs//,/ }
      for b in 1 8 32; do
        "$BIN/smolvk" bench --shape 256m --tiles 1 --batch $b --new-tokens 64 --reps 3 --no-cold-start > "$L/bench_${name}_b$b.txt" 2>&1
        echo "$name b$b rc=$? $(grep -E 'decode' "$L/bench_${name}_b$b.txt" | awk '{printf "%s | ", $0}')" >> "$S"
      done
      for c in "--tiles 1" "--tiles 17" "--batch 8 --tiles 13"; do
        n=$(echo "$c" | tr -d ' -')
        "$BIN/smolvk" bench --shape 256m --new-tokens 4 --reps 5 --no-cold-start $c > "$L/bench_${name}_$n.txt" 2>&1
        echo "$name $c rc=$? $(grep -E 'image encode ms|prefill ms|time to first token' "$L/bench_${name}_$n.txt" | awk '{printf "%s | ", $0}')" >> "$S"
      done
    )
  done
fi
if [ "${PART}" = final ]; then
  # The session's one closing run: tests under validation, the side-by-side against
  # transformers, serve_bench, and the 2.2B-shaped same-run check (whatever time is left).
  SMOLVK_VALIDATION=1 timeout 90 "$BIN/test_model" > "$L/test_model.log" 2>&1
  echo "test_model (validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/test_model.log" | tr '\n' ' ')" >> "$S"
  SMOLVK_VALIDATION=1 timeout 60 "$BIN/test_ops" --gtest_filter='MatmulCoopmat*:OpList.*:MatmulFused*:Patch.*' > "$L/test_ops.log" 2>&1
  echo "test_ops (validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/test_ops.log" | tr '\n' ' ')" >> "$S"
  grep -E '^\[  FAILED|Failure|VUID' "$L/test_model.log" "$L/test_ops.log" | head -10 >> "$S"
  timeout ${SIDE_TIMEOUT:-300} python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --reps 3 --warmup 1 \
    --batched-prefill 8x13,32x1 --json-out "$L/side_by_side.json" > "$L/side_by_side.txt" 2>&1
  echo "side by side: rc=$?" >> "$S"; cat "$L/side_by_side.txt" >> "$S"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ -n "${CLIENTS:-}" ]; then
  python3 tools/bench/make_random_checkpoint.py --out /tmp/ck256 --resize-edge 512 > "$L/ckpt.log" 2>&1
  echo "checkpoint: rc=$? $(tail -1 "$L/ckpt.log")" >> "$S"
  mkdir -p /tmp/b/apps && ln -sf "$PWD/$BIN/smolvk" "$PWD/$BIN/smolvk-serve" /tmp/b/apps/
  timeout ${SERVE_TIMEOUT:-200} python3 tools/bench/serve_bench.py --build /tmp/b --model /tmp/ck256 \
    --clients $CLIENTS --new-tokens 128 --rounds ${ROUNDS:-3} --server-args "${SERVE_ARGS:-}" \
    --json "$L/serve.json" > "$L/serve.txt" 2> "$L/serve.err"
  echo "serve_bench: rc=$?" >> "$S"; cat "$L/serve.txt" >> "$S"; tail -5 "$L/serve.err" >> "$S"
fi
if [ -n "${FULL_CASES:-}" ]; then
  tar czf "$OUT/logs.tgz" -C "$L" .
  timeout ${FULL_TIMEOUT:-150} python3 tools/goldens/make_goldens.py --full-size /tmp/full --full-cases "$FULL_CASES" \
    --full-steps ${FULL_STEPS:-16} > "$L/full.log" 2>&1
  echo "full-size goldens ($FULL_CASES): rc=$? $(grep -E 'SUMMARY' -A4 "$L/full.log" | tail -3 | tr '\n' ' ')" >> "$S"
  for d in /tmp/full/full_size_*; do
    [ -d "$d" ] || continue
    SMOLVK_FULL_GOLDEN=$d timeout 120 "$BIN/test_model" --gtest_filter='FullSize.*' > "$L/fullsize_$(basename $d).log" 2>&1
    echo "FullSize $(basename $d): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) |golden|max|margin' "$L/fullsize_$(basename $d).log" | head -8 | tr '\n' ' ')" >> "$S"
  done
fi
tar czf "$OUT/logs.tgz" -C "$L" .
cat "$S"
