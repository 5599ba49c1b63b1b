#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, binaries in $BIN, .gl carried:
#   bash tools/gpu/tune.sh [section ...]     (default: decode gemm batch)
# Kernel-selection experiments through the SMOLVK_TUNE_* overrides of the kernel policy (model/ops/kernel_policy.cpp; `smolvk info` lists them):
# each line is one `smolvk bench` of the 256M shapes with one setting, so settings are
# compared within one run on one GPU. Results go to $OUT/tune.txt.
set -u
. "$(dirname "$0")/env.sh"
sections=${*:-decode gemm batch}
log=$OUT/tune.txt
bench() {  # bench LABEL ENV... -- ARGS...
  local label=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local line
  line=$(env "${envs[@]}" "$BIN/smolvk" bench --shape 256m --no-cold-start --json "$@" 2>&1 |
    python3 -c '
import json, sys
t = sys.stdin.read()
try:
    j = json.loads(t[t.index("{"):])
except Exception:
    print("FAILED:", t[-300:].replace("\n", " ")); sys.exit()
def g(k):
    v = j.get(k)
    return "%.3f" % v["median"] if isinstance(v, dict) else "-"
print("encode", g("encode_ms"), "prefill", g("prefill_ms"), "decode/step", g("decode_ms_per_step"),
      "tok/s", g("decode_tokens_per_s"), "ttft", g("first_token_ms"),
      "peakMiB", "%.0f" % (j.get("peak_device_bytes", 0) / 2**20))
')
  printf '%-44s %s\n' "$label" "$line" | tee -a "$log"
}
for s in $sections; do
  echo "== $s" | tee -a "$log"
  case $s in
    decode)
      bench "b1" -- --tiles 1 --new-tokens 64 --reps 3
      bench "b1 no float atomics" SMOLVK_NO_FLOAT_ATOMICS=1 -- --tiles 1 --new-tokens 64 --reps 3
      bench "b1 o_proj not folded" SMOLVK_TUNE_OPROJ_FOLD=0 -- --tiles 1 --new-tokens 64 --reps 3
      bench "b1 (again)" -- --tiles 1 --new-tokens 64 --reps 3
      bench "b2" -- --batch 2 --tiles 1 --new-tokens 64 --reps 2
      bench "b1 17 tiles" -- --tiles 17 --new-tokens 32 --reps 2
      "$BIN/smolvk" bench --shape 256m --no-cold-start --tiles 1 --new-tokens 64 --profile --top 12 > "$OUT/decode_profile.txt" 2>&1
      ;;
    gemm)
      bench "17 tiles" -- --tiles 17 --new-tokens 4 --reps 2
      bench "17 tiles 128x128 wn32" SMOLVK_TUNE_GEMM_BN=128 SMOLVK_TUNE_GEMM_WN=32 -- --tiles 17 --new-tokens 4 --reps 2
      bench "1 tile" -- --tiles 1 --new-tokens 4 --reps 3
      "$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 4 --top 12 > "$OUT/profile_17tiles.txt" 2>&1
      ;;
    batch)
      for b in 8 32; do bench "b$b" -- --batch $b --tiles 1 --new-tokens 32 --reps 2; done
      bench "b32 rows cpt=1" SMOLVK_TUNE_ROWS_CPT=1 -- --batch 32 --tiles 1 --new-tokens 32 --reps 2
      bench "b16" -- --batch 16 --tiles 1 --new-tokens 32 --reps 2
      bench "b16 old rows kernel" SMOLVK_TUNE_ROWS_MIN=65 -- --batch 16 --tiles 1 --new-tokens 32 --reps 2
      "$BIN/smolvk" profile --shape 256m --batch 32 --tiles 1 --new-tokens 4 --top 10 > "$OUT/profile_b32.txt" 2>&1
      ;;
    ops)
      # One process per tile setting (SMOLVK_TUNE_GEMM_*: the setting for every
      # shape), the vision GEMMs of 13 tiles and the 1,108-token prefill in bf16.
      for cfg in "" "BM=128 BN=128 WM=64 WN=32" "BM=64 BN=64 WM=16" "BM=64 BN=64 WM=16 WN=16" \
                 "BM=64 BN=128 WM=16 WN=32" "BM=32 BN=64 WM=16 WN=16" \
                 "BM=64 BN=32 WM=16 WN=16" "BM=128 BN=64 WM=32 WN=16"; do
        envs=(); for kv in $cfg; do envs+=("SMOLVK_TUNE_GEMM_$kv"); done
        echo "-- tile ${cfg:-default}" | tee -a "$log"
        env "${envs[@]}" timeout 60 "$BIN/bench_ops" 5 2>&1 | grep -E "M +(13312|1108) .*bf16" | tee -a "$log"
      done
      ;;
  esac
done
