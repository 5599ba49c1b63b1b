#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, binaries in $BIN, .gl carried:
#   bash tools/gpu/perf_all.sh
# Test binaries with validation (failures only), bench + profile + Perfetto traces of the
# SmolVLM-256M shapes, the side-by-side run against transformers, and a GUI offscreen session.
set -u
. "$(dirname "$0")/env.sh"
{
  for t in test_runtime test_ops test_model; do
    SMOLVK_VALIDATION=1 "$BIN/$t" > /tmp/$t.log 2>&1; echo "== $t rc=$?"
    grep -E "FAILED|Failure|Expected|Which is|error|Vulkan validation|PASSED|SKIPPED" /tmp/$t.log | head -40
  done
  SMOLVK_VALIDATION=1 SMOLVK_PORTABLE=1 "$BIN/test_ops" > /tmp/p.log 2>&1; echo "== test_ops portable rc=$?"
  grep -E "FAILED|Failure|Expected|Which is|PASSED" /tmp/p.log | head -20
} > "$OUT/tests.txt" 2>&1
echo "tests done: $(grep '==' $OUT/tests.txt | tr '\n' ' ')"
"$BIN/smolvk" bench --shape 256m --tiles 1 --new-tokens 64 --profile --top 12 --trace "$OUT/trace_b1.json" > "$OUT/bench_b1.txt" 2>&1
echo "bench b1 rc=$?"
"$BIN/smolvk" profile --shape 256m --tiles 17 --new-tokens 4 --top 12 > "$OUT/profile_17tiles.txt" 2>&1
echo "profile 17 tiles rc=$?"
timeout 300 python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --reps 3 --warmup 1 \
  --json-out /tmp/sbs.json > "$OUT/side_by_side.txt" 2>&1
echo "side by side rc=$?"
"$BIN/smolvk-gui" --offscreen --image examples/gradient_shapes_320x240.png \
  --prompt "What shapes are in this image?" --max-new-tokens 24 --screenshot "$OUT/gui-gpu.png" \
  --session "$OUT/gui-gpu.json" > /tmp/gui.log 2>&1
echo "gui rc=$? $(tail -2 /tmp/gui.log)"
