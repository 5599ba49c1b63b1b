#!/usr/bin/env bash
# Session 7's experiment run on the lent GPU machine (binaries in $BIN, .gl carried): the
# tensor-core GEMM and flash-attention tests under validation, then the 17-tile profile and
# the 17 / 8x13-tile benches for each attention_flash row-fragment setting.
set -u
. "$(dirname "$0")/env.sh"
S=$OUT/summary.txt; L=/tmp/l; mkdir -p $L
SMOLVK_VALIDATION=1 timeout 150 $BIN/test_ops --gtest_filter='MatmulCoopmat.*:AttentionCoopmat.Flash*' > $L/t1.log 2>&1; echo "test_ops rc=$? $(grep -E '^\[  (PASSED|FAILED) ' $L/t1.log | tr '\n' ' ')" >> $S
grep -E '^\[  FAILED|Failure|Which is|VUID' $L/t1.log | head -20 >> $S
b() { local name=$1; shift; timeout 60 $BIN/smolvk bench --shape 256m --new-tokens 4 --reps 7 --no-cold-start "$@" > $L/bench_$name.txt 2>&1
      echo "== $name rc=$? $(grep -E 'image encode|first token' $L/bench_$name.txt | awk '{printf "%s | ", $0}')" >> $S; }
for v in ${VARIANTS:-base= rf2=SMOLVK_TUNE_ATTN_FLASH_ROW_FRAGS=2 rf2s4=SMOLVK_TUNE_ATTN_FLASH_ROW_FRAGS=2,SMOLVK_TUNE_ATTN_FLASH_SUBGROUPS=4}; do
  name=${v%%=*}; envs=${v#*=}
  ( [ -n "$envs" ] && export ${envs//,/ }
    timeout 60 $BIN/smolvk profile --shape 256m --tiles 17 --new-tokens 4 --top 30 > $L/profile_$name.txt 2>&1
    grep -E "^  (matmul|attention) |vision.L|connector" $L/profile_$name.txt | sed "s/^/$name /" >> $S
    b ${name}_17 --tiles 17; b ${name}_8x13 --batch 8 --tiles 13 )
done
tar czf $OUT/logs.tgz -C $L .
cat $S
