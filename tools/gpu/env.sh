# Sourced by the tools/gpu scripts on the lent GPU machine (see ../shared/gpu-device.md):
# unpacks the carried Vulkan loader / glvnd / validation-layer packages and points the loader
# at the NVIDIA driver. BIN = the carried binaries, OUT = where results go.
# Besides the packages ../shared/gpu-device.md lists, .gl needs libjpeg62-turbo (smolvk decodes
# JPEG with libjpeg-turbo, WebP with libwebp): (cd .gl && apt-get download libjpeg62-turbo libwebp7).
# smolvk-serve (serve_bench) also links Debian's libcpp-httplib.so.0.11 and libbrotli: without
# them it exits before listening: (cd .gl && apt-get download libcpp-httplib0.11 libbrotli1).
BIN=${BIN:-build-gpu-bin}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" / ; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export SMOLVK_TEST_DATA=$PWD/tests/data SMOLVK_DEMO_MODEL=$PWD/examples/demo-model
export SMOLVK_CACHE_DIR=/tmp/smolvk-cache

# For the session scripts: $L (logs) and $S (summary file) must be set before these are called.
# gtest NAME TIMEOUT FILTER: one test binary under validation; its verdict (and any failure) in $S.
gtest() {
  SMOLVK_VALIDATION=1 timeout "$2" "$BIN/$1" --gtest_filter="$3" > "$L/$1.log" 2>&1
  echo "$1 (validation): rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$L/$1.log" | tr '\n' ' ')" >> "$S"
  grep -E '^\[  FAILED|Failure|VUID' "$L/$1.log" | head -10 >> "$S"
}
# benches PREFIX CASE...: smolvk bench on the $SHAPE shape (default 256m; $REPS reps, default 5) per case ("--tiles 17", ...); with a
# PREFIX one summary line of each, without it the whole table.
benches() {
  local prefix=$1 c n rc; shift
  for c in "$@"; do
    n=$(echo "$c" | tr -d ' -')
    "$BIN/smolvk" bench --shape "${SHAPE:-256m}" --new-tokens 4 --reps "${REPS:-5}" --no-cold-start $c > "$L/bench_${prefix}$n.txt" 2>&1
    rc=$?
    if [ -n "$prefix" ]; then
      echo "${prefix%_} $c rc=$rc $(grep -E 'image encode ms|prefill ms|time to first token|decode tokens/s' "$L/bench_${prefix}$n.txt" | awk '{printf "%s | ", $0}')" >> "$S"
    else
      echo "bench $c rc=$rc" >> "$S"; sed -n '/min/,/time to first/p' "$L/bench_$n.txt" >> "$S"
    fi
  done
}
# serve CLIENTS NAME EXTRA_SERVER_ARGS: serve_bench.py against smolvk-serve on /tmp/ck256 (make_checkpoint first);
# $SERVE_EXTRA: more serve_bench.py flags (e.g. --no-bench, --distinct-images); $SERVE_BUILD: another build
# folder with apps/smolvk and apps/smolvk-serve (default /tmp/b, the carried binaries).
serve() {
  timeout ${SERVE_TIMEOUT:-200} python3 tools/bench/serve_bench.py --build ${SERVE_BUILD:-/tmp/b} --model /tmp/ck256 \
    --clients $1 --new-tokens 128 --rounds ${ROUNDS:-2} --server-args "$3" ${SERVE_EXTRA:-} \
    --json "$L/serve_$2.json" > "$L/serve_$2.txt" 2> "$L/serve_$2.err"
  echo "serve_bench $2 [$3]: rc=$?" >> "$S"; cat "$L/serve_$2.txt" >> "$S"; tail -3 "$L/serve_$2.err" >> "$S"
}
# make_checkpoint: the random SmolVLM-256M-shaped checkpoint serve() runs, and the binaries where it looks.
make_checkpoint() {
  python3 tools/bench/make_random_checkpoint.py --out /tmp/ck256 --resize-edge 512 > "$L/ckpt.log" 2>&1
  echo "checkpoint: rc=$? $(tail -1 "$L/ckpt.log")" >> "$S"
  mkdir -p /tmp/b/apps && ln -sf "$PWD/$BIN/smolvk" "$PWD/$BIN/smolvk-serve" /tmp/b/apps/
}
# family CASES T0: tools/gpu/s12_family.sh on CASES with what is left of ${LIMIT:-590} s since T0.
family() {
  local left=$(( ${LIMIT:-590} - (SECONDS - $2) ))
  echo "family: $left s left for [$1]" >> "$S"
  OUT=$OUT/family CASES="$1" DEADLINE=$left bash tools/gpu/s12_family.sh > "$L/family.out" 2>&1
  echo "family rc=$?" >> "$S"
}
# unpack_video_libs: the FFmpeg libraries the video-enabled smolvk needs (.glv/vlibs.tar.xz, carried
# alone: with the binaries they pass what a call carries; tools/gpu/s17.sh says how it is made)
# into /tmp/vlibs, for a later call on the same machine.
unpack_video_libs() {
  mkdir -p /tmp/vlibs && tar xJf .glv/vlibs.tar.xz -C /tmp/vlibs
  echo "video libraries unpacked: $(ls /tmp/vlibs | wc -l) in /tmp/vlibs" >> "$S"
}
# video_smolvk DIR: /tmp/smolvkv runs DIR/smolvk (built with video) with those libraries, loaded
# for it alone (torch keeps its own); what is missing goes to the summary.
video_smolvk() {
  printf '#!/bin/sh\nLD_LIBRARY_PATH=/tmp/vlibs exec %s "$@"\n' "$PWD/$1/smolvk" > /tmp/smolvkv && chmod +x /tmp/smolvkv
  echo "video libraries: $(ls /tmp/vlibs 2>/dev/null | wc -l); missing: $(LD_LIBRARY_PATH=/tmp/vlibs ldd "$1/smolvk" | grep -c 'not found')" >> "$S"
  LD_LIBRARY_PATH=/tmp/vlibs ldd "$1/smolvk" | grep 'not found' | head -5 >> "$S"
}
