#!/usr/bin/env bash
# On the lent GPU machine (16 cores): every libFuzzer target at once for S seconds (default
# 480), from the committed seeds, then executions, coverage, corpus and findings per target
# ($OUT/fuzz_summary.txt), the first report of any finding ($OUT/fuzz_errors.txt) and the
# findings themselves ($OUT/findings.tgz). Build the targets here first and carry them:
#   cmake -S . -B build-fuzz -G Ninja -DSMOLVK_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
#   cmake --build build-fuzz && mkdir -p build-fuzz-bin && cp -r build-fuzz/seeds build-fuzz-bin/ &&
#   for f in build-fuzz/fuzz_*; do strip --strip-debug -o build-fuzz-bin/${f##*/} $f; done
# then run `S=470 bash tools/gpu/fuzz_long.sh` with carry [".gl", "build-fuzz-bin"].
set -u
. tools/gpu/env.sh
cd build-fuzz-bin
S=${S:-480}
targets="safetensors shard_index config tokenizer_load tokenize prompt image npy server_request"
for t in $targets; do
  mkdir -p corpus/$t findings/$t
  ( ./fuzz_$t -max_total_time=$S -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
      -artifact_prefix=findings/$t/ corpus/$t seeds/$t > /tmp/fz_$t.log 2>&1; echo "$t rc=$?" >> /tmp/fz_rc.txt ) &
done
wait
for t in $targets; do
  e=$(grep -o 'stat::number_of_executed_units: [0-9]*' /tmp/fz_$t.log | awk '{print $2}')
  c=$(grep -o 'cov: [0-9]* ft: [0-9]*' /tmp/fz_$t.log | tail -1)
  echo "$t: rc $(grep "^$t rc" /tmp/fz_rc.txt | cut -d= -f2) execs $e $c corpus $(ls corpus/$t | wc -l) findings $(ls findings/$t | wc -l)"
done | tee $OUT/fuzz_summary.txt
for t in $targets; do grep -m1 -A20 -E "ERROR: |runtime error|deadly signal|out-of-memory" /tmp/fz_$t.log; done > $OUT/fuzz_errors.txt
tar czf $OUT/findings.tgz findings
