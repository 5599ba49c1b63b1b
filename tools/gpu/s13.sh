#!/usr/bin/env bash
# Session 13's runs on the lent GPU machine (binaries in $BIN, .gl carried):
#   PART=pad   bash tools/gpu/s13.sh  the vision heads padded to tensor-core sizes (SigLIP-so400m's
#                                     72 -> 80): the attention op tests and test_model under
#                                     validation, smolvk bench and profile on the SmolVLM2-2.2B
#                                     shape (13 tiles; padded and SMOLVK_TUNE_PAD_VISION_HEADS=0)
#                                     and the Idefics3-8B shape (1 tile)
#   PART=prefill bash tools/gpu/s13.sh  the text prefill with f16 GEMM inputs: the fusion and
#                                     activation op tests and test_model under validation, benches
#                                     on the 2.2B / 8B shapes and the 256M one (1, 17, 8 x 13
#                                     tiles), the 17-tile profile
#   PART=final bash tools/gpu/s13.sh  the closing run: the 17-tile bench, then side_by_side.py
#                                     against transformers
#   SESSION=1 (any part)              smolvk bench --batch-session: BatchSession's decode step
#                                     against generate's (batches $SESSION_BATCHES)
#   DECODE=1 (any part)               bench_ops --decode-rows: the several-row decode kernels on
#                                     the 256M and 8B linears
#   CLIENTS=1,32 (any part)           serve_bench (pipelined); PREFILL_CLIENTS=64 again with
#                                     --max-prefill-tokens $PREFILL_BUDGET
#   FAMILY="cases" (any part)         then tools/gpu/s12_family.sh on those cases, results in
#                                     $OUT/family/ (DEADLINE: the seconds left of this call)
set -u
T0=$SECONDS
. "$(dirname "$0")/env.sh"
L=/tmp/s13; mkdir -p "$L"
S=$OUT/summary.txt
# big NAME SHAPE TILES [ENV=V ...]: smolvk bench on a larger shape, one summary line.
big() {
  local name=$1 shape=$2 tiles=$3; shift 3
  env "$@" timeout 120 "$BIN/smolvk" bench --shape "$shape" --tiles "$tiles" --new-tokens 8 --warmup 1 --reps 3 \
    --no-cold-start > "$L/big_$name.txt" 2>&1
  echo "bench $name [$shape, $tiles tiles, $*] rc=$? $(grep -E 'image encode ms|prefill ms|time to first|decode ms/step|peak' "$L/big_$name.txt" | awk '{printf "%s | ", $0}')" >> "$S"
}
if [ "${PART:-pad}" = pad ]; then
  gtest test_ops 120 'AttentionCoopmat*:MatmulCoopmat*'
  gtest test_model 180 '*'
  big 22b_pad smolvlm2-2.2b 13
  big 22b_nopad smolvlm2-2.2b 13 SMOLVK_TUNE_PAD_VISION_HEADS=0
  big 8b_pad 8b 1
  "$BIN/smolvk" profile --shape smolvlm2-2.2b --tiles 13 --new-tokens 2 --top 12 > "$OUT/profile_22b.txt" 2>&1
  echo "profile 2.2b rc=$?" >> "$S"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ "${PART}" = prefill ]; then
  gtest test_ops 150 'OpList.*:Activation.*:AttentionCoopmat*:MatmulCoopmat*'
  gtest test_model 180 '*'
  big 22b smolvlm2-2.2b 13
  big 8b 8b 1
  benches "" "--tiles 1" "--tiles 17" "--batch 8 --tiles 13"
  "$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 2 --top 12 > "$OUT/profile_256m.txt" 2>&1
  echo "profile 256m rc=$?" >> "$S"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ "${PART}" = final ]; then
  gtest test_ops 90 'MatmulBatch.*:OpList.*:Activation.*'
  gtest test_model 120 'BatchSession.*:Golden*:VisionHeads.*:PixelBytes.*'
  for c in "8b 8" "smolvlm2-2.2b 8" "256m 8" "256m 32"; do
    set -- $c
    timeout 90 "$BIN/smolvk" bench --shape $1 --batch $2 --tiles 1 --new-tokens 16 --warmup 1 --reps 2 --no-cold-start \
      > "$L/dec_$1_b$2.txt" 2>&1
    echo "decode $1 b$2 rc=$? $(grep -E 'decode ms/step|decode tokens/s' "$L/dec_$1_b$2.txt" | awk '{printf "%s | ", $0}')" >> "$S"
  done
  big 22b smolvlm2-2.2b 13
  big 8b 8b 1
  benches "" "--tiles 1" "--tiles 17"
  timeout ${SIDE_TIMEOUT:-300} python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --reps 3 --warmup 1 \
    --batched-prefill 8x13,32x1 --json-out "$L/side_by_side.json" > "$L/side_by_side.txt" 2>&1
  echo "side by side: rc=$?" >> "$S"; cat "$L/side_by_side.txt" >> "$S"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ "${PART}" = ab ]; then  # the batched mat-vec's weight-size rule and the 2.2B's batch 8, A/B
  gtest test_ops 60 'MatmulBatch.*'
  for c in ${AB_CASES:-"8b 32" "256m 32" "smolvlm2-2.2b off"}; do
    set -- $c
    if [ "$2" = off ]; then v="SMOLVK_TUNE_VEC_BATCH_ROWS=0"; else v="SMOLVK_TUNE_VEC_BATCH_MIN_MIB=$2"; fi
    env $v timeout 90 "$BIN/smolvk" bench --shape $1 --batch 8 --tiles 1 --new-tokens 16 --warmup 1 --reps 2 \
      --no-cold-start > "$L/ab_$1_$2.txt" 2>&1
    echo "decode $1 b8 $v rc=$? $(grep -E 'decode ms/step' "$L/ab_$1_$2.txt")" >> "$S"
  done
fi
if [ -n "${SESSION:-}" ]; then
  for b in ${SESSION_BATCHES:-1 8 32}; do
    timeout 120 "$BIN/smolvk" bench --shape 256m --batch "$b" --tiles 1 --new-tokens 64 --reps 3 --no-cold-start \
      --batch-session > "$L/session_b$b.txt" 2>&1
    echo "session decode b$b rc=$?" >> "$S"; sed -n '/session/,$p' "$L/session_b$b.txt" | head -20 >> "$S"
  done
fi
if [ -n "${DECODE:-}" ]; then
  timeout 150 "$BIN/bench_ops" 5 --decode-rows ${DECODE_ROWS:-1,8,16} --decode-shapes 256m,8b > "$OUT/decode_rows.txt" 2>&1
  echo "decode rows rc=$?" >> "$S"
  for shape in 8b 256m; do
    for b in 8; do
      for v in 0 16; do
        env SMOLVK_TUNE_VEC_BATCH_ROWS=$v timeout 90 "$BIN/smolvk" bench --shape $shape --batch $b --tiles 1 \
          --new-tokens 16 --warmup 1 --reps 2 --no-cold-start > "$L/dec_${shape}_b${b}_v$v.txt" 2>&1
        echo "decode $shape b$b VEC_BATCH_ROWS=$v rc=$? $(grep -E 'decode ms/step' "$L/dec_${shape}_b${b}_v$v.txt")" >> "$S"
      done
    done
  done
fi
if [ -n "${CLIENTS:-}" ]; then
  make_checkpoint
  serve "$CLIENTS" pipelined ""
  [ -n "${PREFILL_CLIENTS:-}" ] && serve "$PREFILL_CLIENTS" budget "--max-prefill-tokens ${PREFILL_BUDGET:-2048}"
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
[ -n "${FAMILY:-}" ] && family "$FAMILY" "$T0"
cat "$S"
