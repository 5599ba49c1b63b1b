#!/usr/bin/env bash
# Session 18's runs on the lent GPU machine (binaries in $BIN, .gl carried; see s17.sh for video).
#   PART=stages  #17: where the tensor-core run's difference from float32 comes from on a full-size
#                SmolVLM2-256M checkpoint (make_goldens.py, the published processor files):
#                tools/reference/precision_stages.py with $VARIANTS (';'-separated NAME:ENV=V,...;
#                the video prompt needs .pydeps carried too); $STAGES_ARGS: more of its flags (--emulate ...)
#   PART=video1, then video2 (one machine, two calls: see s17.sh for the FFmpeg libraries in .glv)
#                #17: video1 (carry .glv and .pydeps) unpacks the libraries and writes two full-size
#                SmolVLM2-256M checkpoints: /tmp/full as session 17's (float32 weights, seed 5301) and
#                /tmp/fullbf with bf16 weights (as the issue asks) and the seed probed for the video
#                prompt's margins too (make_goldens.py --probe-video, $MIN_MARGIN, $SEED_TRIES; $FULL_SEED to start
#                from: session 18 found 5302, the best of 5301-5308, min margin 0.0108).
#                video2 (carry .gl, build-gpu-vbin, .pydeps): video_full_check.py on the bf16 one (the
#                default kernels and SMOLVK_PORTABLE=1), then precision_stages.py on both, the video
#                run whole through smolvk too ($CHECKS: the video_full_check settings, "" for none)
#   PART=split   (carry .gl, build-gpu-bin with smolvk and test_ops, .pydeps)
#                KernelPolicy::split_f32_weights: MatmulCoopmat.* under validation; the f32 checkpoint
#                (head-row-sigma 1): precision_stages.py with and without SMOLVK_TUNE_SPLIT_F32_WEIGHTS=1
#                (the image whole, the video prompt's decoder alone: no FFmpeg needed); and what it
#                costs: smolvk bench on f32 weights (256M 17 tiles, SmolVLM2-2.2B 13 tiles, 256M batch
#                32) both ways
set -u
T0=$SECONDS
. "$(dirname "$0")/env.sh"
L=/tmp/s18; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-}" = stages ]; then
  if [ ! -d /tmp/full/full_size_smolvlm2_256m ]; then
    timeout -k 10 300 python3 tools/goldens/make_goldens.py --full-size /tmp/full --full-cases smolvlm2-256m \
      --full-steps 16 > "$L/golden.log" 2>&1
    echo "checkpoint (make_goldens smolvlm2-256m): rc=$? ($((SECONDS - T0)) s)" >> "$S"
  fi
  timeout -k 10 $((580 - (SECONDS - T0))) python3 tools/reference/precision_stages.py \
    --model /tmp/full/full_size_smolvlm2_256m --smolvk "$BIN/smolvk" --out "$L" \
    --variants "${VARIANTS:-default;f32:SMOLVK_PORTABLE=1}" ${STAGES_ARGS:-} > "$OUT/stages.txt" 2>&1
  echo "precision_stages: rc=$? ($((SECONDS - T0)) s)" >> "$S"
  sed -n '/^$/,$p' "$OUT/stages.txt" >> "$S"
  tail -5 "$OUT/stages.txt" >> "$S"
fi
if [ "${PART:-}" = video1 ]; then
  unpack_video_libs
  # $CKPTS: which to write (default both); $HEAD_SIGMA: make_goldens.py --head-row-sigma for both
  for ck in ${CKPTS:-full fullbf}; do
    dt=float32; [ $ck = fullbf ] && dt=bfloat16
    probe="--probe-video --min-margin ${MIN_MARGIN:-0.05} --seed-tries ${SEED_TRIES:-8} ${FULL_SEED:+--full-seed $FULL_SEED}"
    [ $ck = full ] && [ -z "${HEAD_SIGMA:-}" ] && probe="--min-margin 0.03 --seed-tries 1"  # session 17's: seed 5301
    timeout -k 10 $(( (560 - (SECONDS - T0)) / 2 )) python3 tools/goldens/make_goldens.py --full-size /tmp/$ck \
      --full-cases smolvlm2-256m --full-dtype $dt $probe ${HEAD_SIGMA:+--head-row-sigma $HEAD_SIGMA} \
      --full-steps 16 > "$L/golden_$ck.log" 2>&1
    echo "checkpoint $ck ($dt${HEAD_SIGMA:+, head-row-sigma $HEAD_SIGMA}): rc=$? ($((SECONDS - T0)) s)" >> "$S"
    grep -E "seed probe|^\{" "$L/golden_$ck.log" | tail -10 | cut -c1-300 >> "$S"
  done
fi
if [ "${PART:-}" = video2 ]; then
  video_smolvk "${VBIN:-build-gpu-vbin}"
  for v in ${CHECKS-default SMOLVK_PORTABLE=1}; do
    e=""; [ "$v" != default ] && e="$v"
    tol=5e-3; [ "$v" != default ] && tol=1e-4
    for ck in ${CKPTS:-fullbf full}; do
      [ "$v" != default ] && [ $ck = full ] && continue
      env $e timeout -k 10 120 python3 tools/reference/video_full_check.py --model /tmp/$ck/full_size_smolvlm2_256m \
        --smolvk /tmp/smolvkv --tolerance $tol --out "$L" > "$L/video_check_${ck}_$v.txt" 2>&1
      echo "video check $ck [$v]: rc=$? ($((SECONDS - T0)) s) $(grep -E '^\{|video check' "$L/video_check_${ck}_$v.txt" | tail -2 | tr '\n' ' ')" >> "$S"
    done
  done
  for ck in ${CKPTS:-fullbf full}; do
    timeout -k 10 $((580 - (SECONDS - T0))) python3 tools/reference/precision_stages.py \
      --model /tmp/$ck/full_size_smolvlm2_256m --smolvk /tmp/smolvkv --video-smolvk /tmp/smolvkv --out "$L" \
      --variants "${VARIANTS:-default}" ${STAGES_ARGS:-} > "$OUT/stages_$ck.txt" 2>&1
    echo "precision_stages $ck: rc=$? ($((SECONDS - T0)) s)" >> "$S"
    sed -n '/^$/,$p' "$OUT/stages_$ck.txt" >> "$S"
  done
fi
if [ "${PART:-}" = split ]; then
  gtest test_ops 240 'MatmulCoopmat.*'
  timeout -k 10 150 python3 tools/goldens/make_goldens.py --full-size /tmp/full --full-cases smolvlm2-256m \
    --head-row-sigma 1 --min-margin 0 --seed-tries 1 --full-steps 16 > "$L/golden_full.log" 2>&1
  echo "checkpoint f32 (head-row-sigma 1, seed 5301): rc=$? ($((SECONDS - T0)) s)" >> "$S"
  # The image whole and the video's decoder alone (no FFmpeg here), both ways.
  timeout -k 10 200 python3 tools/reference/precision_stages.py --model /tmp/full/full_size_smolvlm2_256m \
    --smolvk "$BIN/smolvk" --out "$L" --variants "default;split:SMOLVK_TUNE_SPLIT_F32_WEIGHTS=1" \
    --emulate "vision_gemm+vision_attn+connector+text_gemm+text_attn+softmax;vision_gemm/x+vision_attn+connector/x+text_gemm/x+text_attn+softmax" \
    > "$OUT/stages_split.txt" 2>&1
  echo "precision_stages f32: rc=$? ($((SECONDS - T0)) s)" >> "$S"
  sed -n '/^$/,$p' "$OUT/stages_split.txt" >> "$S"
  for c in "--shape 256m --tiles 17 --new-tokens 4 --reps 5" "--shape smolvlm2-2.2b --tiles 13 --new-tokens 4 --reps 3" \
           "--shape 256m --batch 32 --new-tokens 32 --reps 3"; do
    for v in default SMOLVK_TUNE_SPLIT_F32_WEIGHTS=1; do
      e=""; [ "$v" != default ] && e="$v"
      [ $((SECONDS - T0)) -gt 540 ] && break 2
      n=$(echo "$c $v" | tr -dc 'a-z0-9')
      env $e timeout 120 "$BIN/smolvk" bench --dtype f32 --no-cold-start $c > "$L/bench_$n.txt" 2>&1
      echo "bench f32 $c [$v]: rc=$? $(grep -E 'image encode ms|prefill ms|time to first token|decode tokens/s' "$L/bench_$n.txt" | awk '{printf "%s | ", $0}')" >> "$S"
    done
  done
fi
tar czf "$OUT/logs.tgz" -C "$L" --exclude='*.npy' . 2>/dev/null
echo "done in $((SECONDS - T0)) s" >> "$S"
cat "$S"
