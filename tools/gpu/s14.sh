#!/usr/bin/env bash
# Session 14's runs on the lent GPU machine (binaries in $BIN, .gl carried):
#   PART=cm2 bash tools/gpu/s14.sh  the VK_NV_cooperative_matrix2 GEMM: what the driver offers,
#                                   bench_ops --cm2 on the vision GEMMs ($CM2 configurations
#                                   against the NV1 GEMM), smolvk bench at 17 and 8 x 13 tiles with
#                                   it on and off (SMOLVK_COOPMAT2=1 against 0), the matmul / model tests
#                                   (without validation: Debian 12's layers predate the extension)
#   PART=check bash tools/gpu/s14.sh the default path (no opt-in) under validation: test_ops and
#                                   test_model; the opt-in's op test without validation and the
#                                   --cm2 bench at its default tile; then the batched mat-vec's
#                                   weight-size rule A/B in one run (batch-8 decode: Idefics3-8B and
#                                   SmolVLM-256M at the default 64 MiB and at 32, SmolVLM2-2.2B with
#                                   and without the kernel)
set -u
T0=$SECONDS
CM2_ENV=${CM2_ENV:-SMOLVK_COOPMAT2=1}
. "$(dirname "$0")/env.sh"
L=/tmp/s14; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-cm2}" = cm2 ]; then
  env $CM2_ENV "$BIN/smolvk" info --json > "$OUT/info.json" 2> "$L/info.err"
  echo "info rc=$? $(grep -A 16 cooperative_matrix2 "$OUT/info.json" | tr -d '\n ')" >> "$S"
  env $CM2_ENV timeout 200 "$BIN/bench_ops" 5 --rows 17408 --cm2 "${CM2:-128x128x128x64,128x128x128x64p,128x128x128x32p,256x128x128x64p,256x128x256x64p,256x256x128x64p,128x64x128x64p,128x128x64x64p}" > "$OUT/cm2.txt" 2>&1
  echo "bench_ops --cm2 rc=$?" >> "$S"
  for c in "--tiles 17" "--batch 8 --tiles 13"; do
    n=$(echo "$c" | tr -d ' -')
    for v in on off; do
      e="$CM2_ENV"; [ $v = off ] && e="SMOLVK_COOPMAT2=0"
      env $e timeout 100 "$BIN/smolvk" bench --shape 256m --new-tokens 4 --reps 5 --no-cold-start $c > "$L/bench_${v}_$n.txt" 2>&1
      echo "bench $v [$e] $c rc=$? $(grep -E 'image encode ms|prefill ms|time to first token' "$L/bench_${v}_$n.txt" | awk '{printf "%s | ", $0}')" >> "$S"
    done
  done
  env $CM2_ENV timeout 60 "$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 2 --top 14 > "$OUT/profile_256m.txt" 2>&1
  echo "profile rc=$?" >> "$S"
  # (without validation: Debian 12's layers predate VK_NV_cooperative_matrix2)
  for t in "test_ops MatmulCoopmat*:OpList.*" "test_model GoldenModel*:VisionHeads.*:PixelBytes.*"; do
    set -- $t
    env $CM2_ENV SMOLVK_VALIDATION=0 timeout 150 "$BIN/$1" --gtest_filter="$2" > "$L/$1.log" 2>&1
    echo "$1 [$CM2_ENV] (no validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/$1.log" | tr '\n' ' ')" >> "$S"
    grep -E '^\[  FAILED' "$L/$1.log" | head -20 >> "$S"
  done
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ "${PART}" = check ]; then
  gtest test_runtime 60 '*'
  gtest test_ops 200 '*'
  gtest test_model 200 'GoldenModel*:VisionHeads.*:PixelBytes.*:BatchSession.*:OpList*'
  SMOLVK_COOPMAT2=1 SMOLVK_VALIDATION=0 timeout 60 "$BIN/test_ops" --gtest_filter='MatmulCoopmat2.*' > "$L/cm2_test.log" 2>&1
  echo "MatmulCoopmat2 (opt-in, no validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/cm2_test.log" | tr '\n' ' ')" >> "$S"
  SMOLVK_COOPMAT2=1 timeout 60 "$BIN/bench_ops" 5 --rows 17408 --cm2 128x128x128x32 > "$OUT/cm2_default.txt" 2>&1
  echo "bench_ops --cm2 default tile rc=$?" >> "$S"
  for th in 8 1; do  # cold start: pipelines compiled on 8 threads against one at a time
    SMOLVK_PIPELINE_THREADS=$th timeout 120 "$BIN/smolvk" bench --shape 256m --tiles 17 --new-tokens 4 --reps 3 > "$L/cold_$th.txt" 2>&1
    echo "cold start, $th pipeline threads rc=$? $(grep -E 'to first token ms|pipelines ready|pipelines created|context created' "$L/cold_$th.txt" | awk '{printf "%s | ", $0}')" >> "$S"
  done
  for c in "8b default" "8b 32" "256m default" "256m 32" "smolvlm2-2.2b default" "smolvlm2-2.2b off"; do
    set -- $c
    case $2 in default) v="";; off) v="SMOLVK_TUNE_VEC_BATCH_ROWS=0";; *) v="SMOLVK_TUNE_VEC_BATCH_MIN_MIB=$2";; esac
    env $v timeout 90 "$BIN/smolvk" bench --shape $1 --batch 8 --tiles 1 --new-tokens 16 --warmup 1 --reps 2 \
      --no-cold-start > "$L/ab_$1_$2.txt" 2>&1
    echo "decode $1 b8 [$v] rc=$? $(grep -E 'decode ms/step' "$L/ab_$1_$2.txt")" >> "$S"
  done
  tar czf "$OUT/logs.tgz" -C "$L" .
fi
if [ "${PART}" = vecbatch ]; then  # the batched mat-vec's rule (32 MiB and K >= 4096) against session 13's (64 MiB), one run
  gtest test_ops 60 'MatmulBatch.*'
  for c in "8b new" "8b old" "smolvlm2-2.2b new" "smolvlm2-2.2b old" "256m new" "256m old" "8b new" "smolvlm2-2.2b new"; do
    set -- $c
    v=""; [ $2 = old ] && v="SMOLVK_TUNE_VEC_BATCH_MIN_MIB=64 SMOLVK_TUNE_VEC_BATCH_MIN_K=0"
    env $v timeout 90 "$BIN/smolvk" bench --shape $1 --batch 8 --tiles 1 --new-tokens 16 --warmup 1 --reps 3 \
      --no-cold-start > "$L/vb_$1_$2.txt" 2>&1
    echo "decode $1 b8 $2 [$v] rc=$? $(grep -E 'decode ms/step' "$L/vb_$1_$2.txt")" >> "$S"
  done
fi
echo "done in $((SECONDS - T0)) s" >> "$S"
