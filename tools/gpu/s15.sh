#!/usr/bin/env bash
# Session 15's runs on the lent GPU machine (binaries in $BIN, .gl carried):
#   PART=decode                       smolvk profile of a decode step at batch 1, 8, 32 and of 17 tiles;
#                                     bench_ops --decode-rows 16,32; batch-32 / 8 decode under kernel-policy
#                                     variants (MLP_DECODE / FUSE_MATVEC / VEC_BATCH at 32 rows, no tensor cores)
#   SERVE=all (any part)              serve_bench at 1, 8, 32, 64 clients, default settings
#   SERVE=window (any part)           serve_bench at 32 clients with --batch-window-ms 5 and 25 (twice each), 64 at 25
#   SERVE=1 (any part)                serve_bench at 32 and 64 clients with --max-prefill-tokens
#                                     0 / 1024 / 2048 / 4096, one run (#16's default)
set -u
T0=$SECONDS
. "$(dirname "$0")/env.sh"
L=/tmp/s15; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-}" = decode ]; then  # where a decode step's time goes at batch 1, 8 and 32; kernel-policy A/B at 32
  for b in 1 8 32; do
    timeout 60 "$BIN/smolvk" profile --shape 256m --batch $b --tiles 1 --new-tokens 8 --top 24 > "$OUT/profile_b$b.txt" 2>&1
    echo "profile batch $b rc=$?" >> "$S"
  done
  timeout 60 "$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 2 --top 16 > "$OUT/profile_t17.txt" 2>&1
  echo "profile 17 tiles rc=$?" >> "$S"
  timeout 100 "$BIN/bench_ops" 5 --decode-rows 16,32 --decode-shapes 256m > "$OUT/decode_rows.txt" 2>&1
  echo "bench_ops --decode-rows rc=$?" >> "$S"
  while read -r v; do
    for b in 32 8; do
      env $v timeout 60 "$BIN/smolvk" bench --shape 256m --batch $b --tiles 1 --new-tokens 32 --warmup 1 --reps 3 \
        --no-cold-start > "$L/dec_b${b}_$(echo "$v" | tr ' =' '__').txt" 2>&1
      echo "decode b$b [$v] rc=$? $(grep -E 'decode ms/step|decode tokens/s' "$L/dec_b${b}_$(echo "$v" | tr ' =' '__').txt" | awk '{printf "%s | ", $0}')" >> "$S"
    done
  done <<'VARIANTS'
BASELINE=1
SMOLVK_TUNE_MLP_DECODE_MAX_ROWS=32
SMOLVK_TUNE_FUSE_MATVEC_MAX_ROWS=32
SMOLVK_TUNE_VEC_BATCH_ROWS=32 SMOLVK_TUNE_VEC_BATCH_MIN_MIB=0 SMOLVK_TUNE_VEC_BATCH_MIN_K=0
SMOLVK_TUNE_COOPMAT_MIN_ROWS=64
BASELINE=2
VARIANTS
fi
if [ -n "${SERVE:-}" ]; then
  make_checkpoint
  if [ "$SERVE" = window ]; then  # the idle GPU's batch window: 5 ms (default) against 25, alternating
    for w in 5 25 5 25; do
      ROUNDS=3 SERVE_TIMEOUT=60 serve 32 "c32_w${w}_$RANDOM" "--batch-window-ms $w"
    done
    ROUNDS=3 SERVE_TIMEOUT=60 serve 64 "c64_w25" "--batch-window-ms 25"
  elif [ "$SERVE" = all ]; then  # the issue's table: 1, 8, 32 and 64 clients, default settings
    SERVE_TIMEOUT=${SERVE_TIMEOUT:-240} serve 1,8,32,64 all ""
  else
    for c in 32 64; do
      for b in 0 1024 2048 4096; do
        SERVE_TIMEOUT=${SERVE_TIMEOUT:-90} serve $c "c${c}_b$b" "--max-prefill-tokens $b"
      done
    done
  fi
fi
tar czf "$OUT/logs.tgz" -C "$L" . 2>/dev/null
echo "done in $((SECONDS - T0)) s" >> "$S"
cat "$S"
