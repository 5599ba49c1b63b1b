#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, binaries in $BIN, .gl carried:
#   bash tools/gpu/gemm_sweep.sh
# Tensor-core GEMM experiments: the model and coopmat tests under validation, bench_ops over
# the tiles in $TILES ($SWEEP: "vision", or "prefill" for the text prefill's shapes at 1,108
# and $ROWS rows; "none" skips it), then 17-tile and 8x13-tile benches with the defaults and with f16 weights
# off, and the 17-tile profile. Results: $OUT/summary.txt, sweep.txt, profile_17.txt, logs.tgz.
set -u
. "$(dirname "$0")/env.sh"
L=/tmp/sweep-logs
mkdir -p "$L"
S="$OUT/summary.txt"
"$BIN/smolvk" info --kernels > "$OUT/info.txt" 2>&1
for t in test_model test_ops; do
  f='*'; [ $t = test_ops ] && f="${TEST_FILTER:-*MatmulCoopmat*:*Matmul*Half*:*AttentionCoopmat*}"
  SMOLVK_VALIDATION=1 timeout 200 "$BIN/$t" --gtest_filter="$f" > "$L/$t.log" 2>&1
  echo "$t rc=$? $(grep -E '^\[  (PASSED|FAILED) ' "$L/$t.log" | tr '\n' ' ')" >> "$S"
  grep -E '^\[  FAILED|Failure|Which is|Expected|VUID' "$L/$t.log" | head -20 >> "$S"
done
TILES=${TILES:-128x128x32/32x32/s1 128x128x32/64x32/s1 128x64x32/32x32/s1 64x128x32/32x32/s1 64x64x32/32x32/s1 128x128x64/32x32/s1}
args=()
for t in $TILES; do args+=(--tile "$t"); done
[ "${SWEEP:-prefill}" = prefill ] && args+=(--prefill --rows "${ROWS:-7016}")
if [ "${SWEEP:-prefill}" != none ]; then
  timeout ${SWEEP_TIMEOUT:-200} "$BIN/bench_ops" 3 "${args[@]}" > "$OUT/sweep.txt" 2>&1; echo "sweep rc=$?" >> "$S"
fi
b() { local name=$1; shift; "$BIN/smolvk" bench --shape 256m --new-tokens 4 --reps 5 --no-cold-start "$@" > "$L/bench_$name.txt" 2>&1
      echo "== $name rc=$? $(grep -E 'image encode|prefill ms|first token|peak' "$L/bench_$name.txt" | awk '{printf "%s | ", $0}')" >> "$S"; }
# VARIANTS: name=ENV=VALUE[,ENV=VALUE] entries; each runs the 17-tile and 8x13-tile benches.
for v in ${VARIANTS:-base= bf16w=SMOLVK_TUNE_F16_WEIGHTS=0}; do
  name=${v%%=*}; envs=${v#*=}
  ( [ -n "$envs" ] && export ${envs//,/ }; b ${name}_17 --tiles 17; b ${name}_8x13 --batch 8 --tiles 13 )
done
"$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 4 --top 40 > "$OUT/profile_17.txt" 2>&1; echo "profile 17 rc=$?" >> "$S"
tar czf "$OUT/logs.tgz" -C "$L" .
cat "$S"
