#!/usr/bin/env bash
# On the lent GPU machine (16 cores): every libFuzzer target at once for S seconds (default
# 480), W processes per target (default 1) sharing the target's corpus folder (each reads it
# at start and adds what it finds), from the committed seeds and the carried corpus if any, then executions, coverage, corpus and findings per target
# ($OUT/fuzz_summary.txt), the first report of any finding ($OUT/fuzz_errors.txt) and the
# findings themselves ($OUT/findings.tgz). Build the targets here first and carry them:
#   cmake -S . -B build-fuzz -G Ninja -DSMOLVK_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
#   cmake --build build-fuzz && mkdir -p build-fuzz-bin && cp -r build-fuzz/seeds build-fuzz-bin/ &&
#   for f in build-fuzz/fuzz_*; do strip --strip-debug -o build-fuzz-bin/${f##*/} $f; done
# then run `S=470 bash tools/gpu/fuzz_long.sh` with carry [".gl", "build-fuzz-bin"]; TARGETS
# picks targets. W=2 on 8 targets fills 16 cores: 2 × S seconds of fuzzing per target.
set -u
. tools/gpu/env.sh
cd build-fuzz-bin
S=${S:-480}
W=${W:-1}
targets=${TARGETS:-"safetensors shard_index config tokenizer_load tokenize tokenize_llama3 prompt image npy server_request"}
for t in $targets; do
  mkdir -p corpus/$t findings/$t
  for w in $(seq 1 $W); do
    ( ./fuzz_$t -max_total_time=$S -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix=findings/$t/w$w- corpus/$t seeds/$t > /tmp/fz_${t}_$w.log 2>&1
      echo "$t.$w rc=$?" >> /tmp/fz_rc.txt ) &
  done
done
wait
for t in $targets; do
  e=$(cat /tmp/fz_${t}_*.log | grep -o 'stat::number_of_executed_units: [0-9]*' | awk '{s += $2} END {print s}')
  c=$(cat /tmp/fz_${t}_*.log | grep -o 'cov: [0-9]* ft: [0-9]*' | sort -t' ' -k2 -n | tail -1)
  echo "$t: rc $(grep "^$t\." /tmp/fz_rc.txt | cut -d= -f2 | tr '\n' ' ')execs $e (W=$W x ${S} s) $c corpus $(ls corpus/$t | wc -l) findings $(ls findings/$t | wc -l)"
done | tee $OUT/fuzz_summary.txt
for t in $targets; do cat /tmp/fz_${t}_*.log | grep -m1 -A20 -E "ERROR: |runtime error|deadly signal|out-of-memory"; done > $OUT/fuzz_errors.txt
tar czf $OUT/findings.tgz findings
tar czf $OUT/corpus.tgz corpus
