#!/usr/bin/env bash
# Session 11's follow-up run on the lent GPU machine (binaries in $BIN, .gl carried):
#   bash tools/gpu/s11_extra.sh
# 8 x 13 tiles with the overlapped encoder passes (default), one pass and passes of 13 tiles;
# batch-1 decode under three kernel-policy variants; the SmolVLM-Instruct (2.2B)-shaped
# full-size golden with transformers' per-step greedy margins, FullSize.MatchesTransformers
# on it, and `smolvk run` on its checkpoint.
#   SKIP_BENCH=1      only the golden part; FULL_SEED=N another weight seed for it;
#   CHUNKS17="13 9"   the 17-tile first token with those encoder pass sizes (and the default)
set -u
. tools/gpu/env.sh
S=$OUT/summary.txt
for c in ${CHUNKS17:-}; do
  for v in "" "SMOLVK_TUNE_VISION_CHUNK=$c"; do
    ( [ -n "$v" ] && export $v; "$BIN/smolvk" bench --shape 256m --tiles 17 --new-tokens 2 --reps 7 --no-cold-start > $OUT/b17.txt 2>&1 )
    echo "17 tiles ${v:-default}: $(grep -E 'image encode ms|first token|peak' $OUT/b17.txt | awk '{$1=$1; printf "%s | ", $0}')" >> $S
  done
done
[ -n "${SKIP_BENCH:-}" ] || for v in "default=" "one_pass=SMOLVK_TUNE_VISION_CHUNK=104" "pass13=SMOLVK_TUNE_VISION_CHUNK=13"; do
  name=${v%%=*}; envs=${v#*=}
  ( [ -n "$envs" ] && export $envs; "$BIN/smolvk" bench --shape 256m --batch 8 --tiles 13 --new-tokens 2 --reps 5 --no-cold-start > $OUT/b813_$name.txt 2>&1 )
  echo "8x13 $name: $(grep -E 'image encode|buffers|record|waiting|first token|peak' $OUT/b813_$name.txt | awk '{$1=$1; printf "%s | ", $0}')" >> $S
done
[ -n "${SKIP_BENCH:-}" ] || for v in "default=" "nofold=SMOLVK_TUNE_OPROJ_FOLD=0" "keys32=SMOLVK_TUNE_DECODE_SPLIT_KEYS=32" "wg256=SMOLVK_TUNE_MATVEC_WG=256"; do
  name=${v%%=*}; envs=${v#*=}
  ( [ -n "$envs" ] && export $envs; "$BIN/smolvk" bench --shape 256m --batch 1 --tiles 1 --new-tokens 64 --reps 3 --no-cold-start > $OUT/b1_$name.txt 2>&1 )
  echo "b1 $name: $(grep -E 'decode ms/step' $OUT/b1_$name.txt | awk '{$1=$1; printf "%s | ", $0}')" >> $S
done
timeout 120 python3 tools/goldens/make_goldens.py --full-size /tmp/full --full-cases 2.2b --full-steps 16 \
  ${FULL_SEED:+--full-seed $FULL_SEED} > /tmp/full.log 2>&1
echo "golden rc=$?" >> $S
python3 -c "
import json; g=json.load(open('/tmp/full/full_size_2b/golden/golden.json'))
for r in g['requests']:
    print('greedy', r['greedy_ids']); print('margins', [round(m,5) for m in r['greedy_margins'][0]])
" >> $S 2>&1
SMOLVK_FULL_GOLDEN=/tmp/full/full_size_2b timeout 120 "$BIN/test_model" --gtest_filter='FullSize.*' > /tmp/fs.log 2>&1
echo "FullSize rc=$?" >> $S; grep -E "Failure|Which is|greedy|logits|output|rel|PASSED|FAILED" /tmp/fs.log | head -20 >> $S
SMOLVK_FULL_GOLDEN=/tmp/full/full_size_2b "$BIN/smolvk" run --model /tmp/full/full_size_2b --image /tmp/full/images/photo_1000x700.png --prompt "Describe this image." --max-new-tokens 4 > /tmp/run2b.txt 2>&1; echo "run 2.2b rc=$? $(tail -3 /tmp/run2b.txt | tr '\n' ' ')" >> $S
cat $S
