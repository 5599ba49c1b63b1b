# Sourced by the tools/gpu scripts on the lent GPU machine (see ../shared/gpu-device.md):
# unpacks the carried Vulkan loader / glvnd / validation-layer packages and points the loader
# at the NVIDIA driver. BIN = the carried binaries, OUT = where results go.
# Besides the packages ../shared/gpu-device.md lists, .gl needs libjpeg62-turbo (smolvk decodes
# JPEG with libjpeg-turbo, WebP with libwebp): (cd .gl && apt-get download libjpeg62-turbo libwebp7).
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
