#!/usr/bin/env bash
# Session 12's runs on the lent GPU machine (binaries in $BIN, .gl carried):
#   PART=exp   bash tools/gpu/s12.sh  the tensor-core op tests under validation, a vision GEMM tile
#                                     sweep over $TILES (fragment load orders, subgroup tiles), the
#                                     17-tile encode's host split (SMOLVK_TRACE_ENCODE where the
#                                     binary has it), then smolvk bench (17 tiles, 8 x 13 tiles,
#                                     batch-32 decode) per kernel-policy variant in $VARIANTS
#                                     ("name=SMOLVK_TUNE_X=v,SMOLVK_TUNE_Y=w ...")
#   PART=final bash tools/gpu/s12.sh  the closing run: test_model, the tensor-core op tests and the
#                                     staged-transfer tests under validation, the 17-tile bench,
#                                     then side_by_side.py against transformers
#   PART=check bash tools/gpu/s12.sh  after a last change: the transfer, pixel, timing, batch-session
#                                     and golden tests under validation, smolvk's first-token benches
#   CLIENTS=1,32 (any part)           serve_bench afterwards; OFF_CLIENTS=1,32 again with
#                                     --pipeline-decode 0
#   FAMILY="cases" (any part)         then tools/gpu/s12_family.sh on those cases, results in
#                                     $OUT/family/ (DEADLINE: the seconds left of this call)
set -u
T0=$SECONDS
. "$(dirname "$0")/env.sh"
L=/tmp/s12-exp; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-exp}" = exp ]; then
  gtest test_ops 120 "${OPS_FILTER:-MatmulCoopmat*}"
  if [ -n "${TILES:-}" ]; then
    args=(); for t in $TILES; do args+=(--tile "$t"); done
    timeout ${SWEEP_TIMEOUT:-150} "$BIN/bench_ops" 3 "${args[@]}" > "$OUT/sweep_vision.txt" 2>&1; echo "sweep vision rc=$?" >> "$S"
  fi
  SMOLVK_TRACE_ENCODE=1 "$BIN/smolvk" bench --shape 256m --tiles 17 --new-tokens 2 --reps 3 --no-cold-start > "$L/trace17.txt" 2>&1
  echo "trace 17 rc=$?" >> "$S"; grep -E '^\[enc\]' "$L/trace17.txt" | tail -7 >> "$S"
  for v in ${VARIANTS:-base=}; do
    name=${v%%=*}; envs=${v#*=}
    (
      [ -n "$envs" ] && export ${envs//,/ }
      benches "${name}_" "--tiles 17" "--batch 8 --tiles 13" "--batch 32 --tiles 1 --new-tokens 64"
    )
  done
  "$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 4 --top 40 > "$L/profile_17.txt" 2>&1; echo "profile 17 rc=$?" >> "$S"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ "${PART}" = final ]; then
  gtest test_model 120 '*'
  gtest test_ops 90 'MatmulCoopmat*:OpList.*:MatmulFused*:Patch.*:AttentionCoopmat*'
  gtest test_runtime 60 'StagedTransfers.*:Program*'
  benches "" "--tiles 1" "--tiles 17"
  timeout ${SIDE_TIMEOUT:-300} python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --reps 3 --warmup 1 \
    --batched-prefill 8x13,32x1 --json-out "$L/side_by_side.json" > "$L/side_by_side.txt" 2>&1
  echo "side by side: rc=$?" >> "$S"; cat "$L/side_by_side.txt" >> "$S"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ "${PART}" = check ]; then  # after a last change: its tests, and smolvk's first-token benches
  gtest test_runtime 60 'StagedTransfers.*:Program*'
  gtest test_model 90 'PixelBytes.*:Timings.*:BatchSession.*:Golden*'
  benches "" "--tiles 1" "--tiles 17" "--batch 8 --tiles 13" "--batch 32 --tiles 1"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ "${PART}" = big ]; then  # the larger shapes: profiles, and decode-policy variants at batch 8
  "$BIN/smolvk" profile --shape 8b --tiles 1 --new-tokens 4 --top 25 > "$OUT/profile_8b.txt" 2>&1; echo "profile 8b rc=$?" >> "$S"
  "$BIN/smolvk" profile --shape smolvlm2-2.2b --tiles 13 --new-tokens 4 --top 25 > "$OUT/profile_22b.txt" 2>&1; echo "profile 2.2b rc=$?" >> "$S"
  for v in ${VARIANTS:-base=}; do
    name=${v%%=*}; envs=${v#*=}
    (
      [ -n "$envs" ] && export ${envs//,/ }
      for b in ${BATCHES:-1 8}; do
        timeout 90 "$BIN/smolvk" bench --shape 8b --batch $b --tiles 1 --new-tokens 16 --warmup 1 --reps 2 --no-cold-start > "$L/big_${name}_b$b.txt" 2>&1
        echo "8b $name b$b rc=$? $(grep -E 'decode ms/step|time to first' "$L/big_${name}_b$b.txt" | awk '{printf "%s | ", $0}')" >> "$S"
      done
    )
  done
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ -n "${CLIENTS:-}" ]; then
  make_checkpoint
  serve "$CLIENTS" pipelined ""
  [ -n "${OFF_CLIENTS:-}" ] && serve "$OFF_CLIENTS" one_step "--pipeline-decode 0"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
[ -n "${FAMILY:-}" ] && family "$FAMILY" "$T0"
cat "$S"
