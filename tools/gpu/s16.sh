#!/usr/bin/env bash
# Session 16's runs on the lent GPU machine (binaries in $BIN, .gl carried). (Three experiments of
# that session were reverted and are not here: the cooperative_matrix2 GEMM with unclamped
# interior tiles, fragment-native staging, which the fp16 B order the probe logs rules out, and
# the tensor-core GEMM's epilogue from registers; issue #13's note has their numbers.)
#   PART=abl     the NV1 GEMM's main loop without parts of its work (SMOLVK_TUNE_GEMM_ABLATE 0-3:
#                all, no global loads, nor shared stores, only the products) on the vision GEMMs
#                at the tiles in $TILES; the fragment-layout probe's log (fp16 A and B orders)
#   PART=bf16    #17: a full-size SmolVLM2-2.2B-shaped checkpoint stored in float32 (transformers,
#                random weights), smolvk info and bench --model on it with --dtype auto and bf16
#                (weight and peak device memory, 13-tile first token, decode); the tensor-core GEMM
#                and layout-probe tests under validation
#   PART=serve   #16: what one newcomer's admission costs (smolvk bench, 1 tile: encode and prefill
#                split) and serve_bench at 32 clients, three runs of the default settings (the
#                spread of p99 / p50 inter-token latency); NO_BENCH=1 skips the bench, TESTS=1
#                runs the BatchSession tests first
set -u
T0=$SECONDS
. "$(dirname "$0")/env.sh"
L=/tmp/s16; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-}" = abl ]; then
  SMOLVK_LOG_COOPMAT_LAYOUT=1 timeout 60 "$BIN/test_runtime" --gtest_filter='CoopmatLayout.*' > "$OUT/layout.txt" 2>&1
  echo "layout probe rc=$? (fp16 A and B orders in layout.txt)" >> "$S"
  TILES=${TILES:-128x128x32/64x32/s1 128x128x64/64x32/s1 128x128x32/64x32/s2 128x128x32/32x32/s1 256x128x32/64x64/s1}
  t=""; for x in $TILES; do t="$t --tile $x"; done
  for a in 0 1 2 3; do
    e="SMOLVK_TUNE_GEMM_ABLATE=$a"
    env $e timeout 120 "$BIN/bench_ops" 5 --rows 17408 $t > "$OUT/abl_$a.txt" 2>&1
    echo "[$e] rc=$? ($((SECONDS - T0)) s)" >> "$S"
    grep -E "TFLOP" "$OUT/abl_$a.txt" | awk '{print "  " $0}' | cut -c1-150 >> "$S"
  done
fi
if [ "${PART:-}" = serve ]; then
  [ -n "${NO_BENCH:-}" ] || for c in "--tiles 1" "--batch 4 --tiles 1"; do
    n=$(echo "$c" | tr -d ' -')
    timeout 60 "$BIN/smolvk" bench --shape 256m --new-tokens 4 --reps 5 --no-cold-start $c > "$OUT/bench_$n.txt" 2>&1
    echo "bench $c rc=$?" >> "$S"; sed -n '/min/,/time to first/p' "$OUT/bench_$n.txt" >> "$S"
  done
  [ -n "${TESTS:-}" ] && gtest test_model 120 'BatchSession.*'
  make_checkpoint
  for r in 1 2 3; do
    SERVE_TIMEOUT=100 serve 32 "c32_r$r" ""
    [ $((SECONDS - T0)) -gt 480 ] && { echo "stopped: time" >> "$S"; break; }
  done
fi
if [ "${PART:-}" = bf16 ]; then
  gtest test_runtime 60 'CoopmatLayout.*'
  gtest test_ops 200 'MatmulCoopmat.*'
  timeout 240 python3 tools/bench/make_random_checkpoint.py --out /tmp/ck22 --shape smolvlm2-2.2b --dtype f32 > "$L/ck22.log" 2>&1
  echo "checkpoint rc=$? $(tail -1 "$L/ck22.log") $(du -sh /tmp/ck22 | cut -f1) ($((SECONDS - T0)) s)" >> "$S"
  for d in auto bf16; do
    timeout 60 "$BIN/smolvk" info --model /tmp/ck22 --dtype $d > "$OUT/info_$d.txt" 2>&1
    echo "info --dtype $d rc=$?" >> "$S"
    timeout 150 "$BIN/smolvk" bench --model /tmp/ck22 --dtype $d --tiles 13 --new-tokens 16 --warmup 1 --reps 3 --no-cold-start > "$OUT/bench22_$d.txt" 2>&1
    echo "bench --model (2.2B f32) --dtype $d rc=$? ($((SECONDS - T0)) s)" >> "$S"
    grep -E "model:|image encode ms|time to first token|decode ms/step|peak device" "$OUT/bench22_$d.txt" >> "$S"
  done
fi
tar czf "$OUT/logs.tgz" -C "$L" . 2>/dev/null
echo "done in $((SECONDS - T0)) s" >> "$S"
cat "$S"
