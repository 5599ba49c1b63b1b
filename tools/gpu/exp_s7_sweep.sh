set -u
. tools/gpu/env.sh
S=$OUT/summary.txt
args=(); for t in 128x128x32/64x32/s1 128x64x32/64x32/s1 128x64x32/64x32/s2 64x128x32/32x32/s1 128x128x32/32x64/s1 128x64x32/32x32/s1 256x64x32/64x32/s1 128x128x32/64x32/s1/l4 64x128x32/32x64/s1 128x128x16/64x32/s2; do args+=(--tile $t); done
timeout 200 $BIN/bench_ops 3 "${args[@]}" > $OUT/sweep_vision.txt 2>&1; echo "sweep rc=$?" >> $S
args=(); for t in 64x128x32/32x32/s1 64x64x32/32x32/s1 64x64x32/32x32/s2 64x64x32/16x32/s1 32x64x32/16x32/s2 64x32x32/16x16/s2 32x32x32/16x16/s2 128x64x32/32x32/s1 32x128x32/16x32/s1 64x64x64/32x32/s1; do args+=(--tile $t); done
timeout 200 $BIN/bench_ops 5 "${args[@]}" --prefill --rows 6800 > $OUT/sweep_prefill.txt 2>&1; echo "sweep prefill rc=$?" >> $S
cat $S
# Correctness of this build on the GPU: every op and model test under validation, the flash
# kernel also at one row fragment, the fused and unfused vision GELU.
L=/tmp/l; mkdir -p $L
for t in test_ops test_model test_runtime; do
  SMOLVK_VALIDATION=1 timeout 200 $BIN/$t > $L/$t.log 2>&1; echo "$t rc=$? $(grep -E '^\[  (PASSED|FAILED) ' $L/$t.log | tr '\n' ' ')" >> $S
  grep -E '^\[  FAILED|Failure|Which is|VUID' $L/$t.log | head -10 >> $S
done
SMOLVK_TUNE_ATTN_FLASH_ROW_FRAGS=1 SMOLVK_VALIDATION=1 timeout 60 $BIN/test_ops --gtest_filter='AttentionCoopmat.Flash*' > $L/rf1.log 2>&1; echo "flash rf1 rc=$? $(grep -E '^\[  (PASSED|FAILED) ' $L/rf1.log | tr '\n' ' ')" >> $S
SMOLVK_TUNE_FUSE_LINEAR_GELU=0 SMOLVK_VALIDATION=1 timeout 120 $BIN/test_model > $L/nogelu.log 2>&1; echo "test_model unfused gelu rc=$? $(grep -E '^\[  (PASSED|FAILED) ' $L/nogelu.log | tr '\n' ' ')" >> $S
tar czf $OUT/logs.tgz -C $L .
cat $S
