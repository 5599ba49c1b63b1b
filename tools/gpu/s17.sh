#!/usr/bin/env bash
# Session 17's runs on the lent GPU machine (binaries in $BIN, .gl carried).
#   PART=serve   #16: serve_bench at 32 and 64 clients, $RUNS runs (default 3), with one image for
#                all requests (found in the image cache after the first), with a distinct image
#                per request (every one encoded), and with the clients as threads of one process
#                (serve_bench's old way); the carried server against $BIN/smolvk-serve-old in
#                turn (session 17: a build with the admission overlap below against f5bedc6's);
#                the BatchSession and image-cache tests under validation first. Two admission
#                changes were measured this way and are not in the tree: a two-gap admission
#                (images encoded in one gap, prompts prefilled in the next) lost, and recording
#                the prefill and queueing the image cache's copies while the step in flight runs
#                (the "overlap") made no difference beyond the runs' spread.
#   PART=table   #16: the README's serve_bench table (1, 8, 32, 64 clients beside smolvk bench, twice),
#                then 32 and 64 clients with distinct images and with client threads
#   PART=video1, then video2 (one machine: two calls, the second within the idle time)
#                #17: a SmolVLM2 video prompt on a full-size SmolVLM2-256M checkpoint (make_goldens.py
#                writes it from the published processor files), smolvk run --video against
#                transformers on the same frames (tools/reference/video_full_check.py). The machine
#                has no FFmpeg libraries, PyAV or torchcodec: smolvk's come along as
#                .glv/vlibs.tar.xz, the libraries `ldd build/apps/smolvk` names on Debian 12 but
#                glibc's, libstdc++, libgcc_s and libvulkan (48 MB with xz -9e; video1 carries only
#                them and unpacks them in /tmp/vlibs, and writes the checkpoint), and the
#                video-enabled smolvk in build-gpu-vbin/ (video2); transformers gets the committed frames
#                (tests/data/video/frames). Real num2words: .pydeps (make_video_golden.py says how;
#                git-ignored locally, so video2 carries it too). $VARIANTS: smolvk switches to compare.
#   PART=family  #17: a full-size SmolVLM2-2.2B-shaped checkpoint stored in float32 (transformers,
#                random weights), side_by_side.py --model on it with smolvk --dtype $DTYPE (default
#                bf16, as transformers loads it): first token and decode beside transformers in one
#                run; whether this machine has FFmpeg's libraries or PyAV (video)
set -u
T0=$SECONDS
. "$(dirname "$0")/env.sh"
L=/tmp/s17; mkdir -p "$L"
S=$OUT/summary.txt
if [ "${PART:-}" = serve ]; then
  gtest test_runtime 60 'Buffers.*:StagedTransfers.*'
  gtest test_model 120 'BatchSession.*:*ImageCache*'
  make_checkpoint
  # The server before this session's change (built from f5bedc6), where the carried binaries have it.
  if [ -x "$BIN/smolvk-serve-old" ]; then
    mkdir -p /tmp/b_old/apps && ln -sf "$PWD/$BIN/smolvk" /tmp/b_old/apps/smolvk
    ln -sf "$PWD/$BIN/smolvk-serve-old" /tmp/b_old/apps/smolvk-serve
  fi
  for r in $(seq 1 "${RUNS:-3}"); do
    for v in new old; do
      b=/tmp/b; [ $v = old ] && b=/tmp/b_old; [ -d $b ] || continue
      nb="--no-bench"; [ "$r$v" = 1new ] && nb=""  # smolvk bench --batch 32 / 64 once
      SERVE_BUILD=$b SERVE_TIMEOUT=100 SERVE_EXTRA="$nb" serve 32,64 "same_${v}_r$r" ""
      SERVE_BUILD=$b SERVE_TIMEOUT=100 SERVE_EXTRA="--no-bench --distinct-images" serve 32,64 "distinct_${v}_r$r" ""
      SERVE_BUILD=$b SERVE_TIMEOUT=100 SERVE_EXTRA="--no-bench --client-threads" serve 32,64 "threads_${v}_r$r" ""
      [ $((SECONDS - T0)) -gt 500 ] && { echo "stopped: time" >> "$S"; break 2; }
    done
  done
fi
if [ "${PART:-}" = table ]; then
  # The README's serve table: 1, 8, 32 and 64 clients beside smolvk bench, twice; then 32 and 64
  # clients with a distinct image per request, and with the clients as threads of one process.
  gtest test_model 120 'BatchSession.*'
  make_checkpoint
  for r in 1 2; do SERVE_TIMEOUT=200 serve 1,8,32,64 "table_r$r" ""; done
  SERVE_TIMEOUT=100 SERVE_EXTRA="--no-bench --distinct-images" serve 32,64 "table_distinct" ""
  SERVE_TIMEOUT=100 SERVE_EXTRA="--no-bench --client-threads" serve 32,64 "table_threads" ""
fi
if [ "${PART:-}" = family ]; then
  ls /usr/lib/x86_64-linux-gnu/ 2>/dev/null | grep -E '^lib(avcodec|avformat|swscale)' | head -5 | tr '\n' ' ' >> "$S"
  python3 -c "import av; print('PyAV', av.__version__)" >> "$S" 2>&1 | true
  python3 -c "import torchcodec; print('torchcodec', torchcodec.__version__)" >> "$S" 2>&1 | true
  timeout 240 python3 tools/bench/make_random_checkpoint.py --out /tmp/ck22 --shape smolvlm2-2.2b --dtype f32 > "$L/ck22.log" 2>&1
  echo "checkpoint rc=$? $(tail -1 "$L/ck22.log") $(du -sh /tmp/ck22 | cut -f1) ($((SECONDS - T0)) s)" >> "$S"
  timeout -k 10 $((570 - (SECONDS - T0))) python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --model /tmp/ck22 \
    --dtype "${DTYPE:-bf16}" --json-out "$OUT/side_by_side_22.json" > "$OUT/side_by_side_22.txt" 2>&1
  echo "side_by_side --model (2.2B f32) --dtype ${DTYPE:-bf16}: rc=$? ($((SECONDS - T0)) s)" >> "$S"
  sed -n '/ratio: >1/,$p' "$OUT/side_by_side_22.txt" | head -20 >> "$S"
fi
if [ "${PART:-}" = video1 ]; then
  # The libraries (only .glv carried: with them the binaries would pass the 64 MiB a call carries)
  # and the checkpoint; video2 must follow while the machine is still held.
  unpack_video_libs
  timeout -k 10 300 python3 tools/goldens/make_goldens.py --full-size /tmp/full --full-cases smolvlm2-256m \
    --full-steps 16 > "$L/golden.log" 2>&1
  echo "checkpoint (make_goldens smolvlm2-256m): rc=$? ($((SECONDS - T0)) s)" >> "$S"
  tail -3 "$L/golden.log" >> "$S"
fi
if [ "${PART:-}" = video2 ]; then
  # smolvk built with video ($VBIN, default build-gpu-vbin), with video1's libraries loaded for it
  # alone through a wrapper (torch keeps its own).
  video_smolvk "${VBIN:-build-gpu-vbin}"
  # $VARIANTS: smolvk settings to compare, ';'-separated (default: the default kernels only), e.g.
  # "SMOLVK_PORTABLE=1;SMOLVK_TUNE_ATTN_FLASH=0" — which part of the tensor-core path the logits'
  # difference comes from.
  IFS=';' read -ra vs <<< "${VARIANTS:-default}"
  for v in "${vs[@]}"; do
    e=""; [ "$v" != default ] && e="$v"
    env $e timeout -k 10 $((570 - (SECONDS - T0))) python3 tools/reference/video_full_check.py \
      --model /tmp/full/full_size_smolvlm2_256m --smolvk /tmp/smolvkv --out "$L" > "$L/video_check.txt" 2>&1
    echo "video check [$v]: rc=$? ($((SECONDS - T0)) s) $(grep '^{' "$L/video_check.txt" | tail -1)" >> "$S"
  done
fi
tar czf "$OUT/logs.tgz" -C "$L" . 2>/dev/null
echo "done in $((SECONDS - T0)) s" >> "$S"
cat "$S"
