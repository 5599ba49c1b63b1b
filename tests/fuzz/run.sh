#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 30) from its seeds and the corpus it has
# grown so far; prints executions, coverage and findings per target and exits non-zero if
# any target found a crash, leak, sanitizer report, timeout or out-of-memory.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      (BUILD=build-fuzz by default; JOBS=1)
# A finding is written to $BUILD/findings/<target>/: fix it, then commit the input under
# tests/fuzz/regressions/<target>/ (test_loader replays it).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${BUILD:-build-fuzz}
secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors shard_index config tokenizer_load tokenize tokenize_llama3 prompt image npy server_request)
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/findings/$t" "$build/logs"
  log="$build/logs/$t.log"
  jobs=()
  [ "${JOBS:-1}" != 1 ] && jobs=(-jobs="$JOBS" -workers="$JOBS")
  # From the logs folder: with JOBS > 1 libFuzzer writes fuzz-<n>.log there.
  (cd "$build/logs" && "$root/$build/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 "${jobs[@]}" -print_final_stats=1 -artifact_prefix="$root/$build/findings/$t/" \
    "$root/$build/corpus/$t" "$root/$build/seeds/$t") > "$log" 2>&1
  rc=$?
  [ "${JOBS:-1}" != 1 ] && cat "$build"/logs/fuzz-*.log >> "$log" 2>/dev/null && rm -f "$build"/logs/fuzz-*.log
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
  corpus=$(ls "$build/corpus/$t" | wc -l)
  if [ $rc -ne 0 ]; then
    status=1
    echo "FUZZ FAIL $t (rc $rc) after $execs runs; $cov; input: $(ls -t "$build/findings/$t" | head -n 1)"
    grep -m 1 -A 25 -E 'ERROR: |runtime error|WARNING: .*Sanitizer|deadly signal|fuzz invariant|terminate called|ALARM|out-of-memory' "$log"
  else
    echo "fuzz ok   $t: $execs runs in ${secs}s, $cov, corpus $corpus"
  fi
done
exit $status
