#!/usr/bin/env bash
# Issue #17 on the lent GPU machine (binaries in $BIN, .gl carried): the rest of the published
# family against transformers, one full-size case at a time.
#   CASES="smolvlm2-256m smolvlm2-500m 500m smolvlm2-2.2b" bash tools/gpu/s12_family.sh
#   CASES=8b BENCH=1 bash tools/gpu/s12_family.sh
# For each case of $CASES (make_goldens.py --full-cases names; default the five new ones; NAME:SEED
# gives a case its weight seed, e.g. 8b:5610):
#   1. make_goldens.py --full-size /tmp/full --full-cases NAME (transformers writes the checkpoint
#      and its golden; the seed probe re-seeds while transformers' smallest top-1 margin is below
#      $MIN_MARGIN);
#   2. FullSize.MatchesTransformers on it (test_model, SMOLVK_FULL_GOLDEN);
#   3. smolvk run on the golden's request (--json --dump-logits) and compare_full_golden.py: input_ids
#      equal, last logits max |Δ| / max |ref|, greedy ids equal k/N, min margin, load GB/s;
#   4. with BENCH=1 and a 2.2B or 8B case, side_by_side.py --model on the checkpoint;
#   5. the checkpoint is deleted (the disk is 64 GiB; KEEP=1 keeps the last one).
# One line per case and step in $OUT/summary.txt; every log in $OUT/logs.tgz (rewritten after each
# case, so a run cut short still returns what it did). Each step has its own timeout, bounded by
# what is left of $DEADLINE seconds (default 570: the command limit is 600); a step that cannot
# get its minimum is skipped and said so.
#   FULL_STEPS=16 MIN_MARGIN=0.03 SEED_TRIES=3   passed to make_goldens.py
#   BENCH_CASES="smolvlm2-2.2b 8b"               the cases BENCH=1 benchmarks
set -u
. "$(dirname "$0")/env.sh"
L=/tmp/s12-logs; mkdir -p "$L"
S=$OUT/summary.txt
FULL=/tmp/full
T0=$SECONDS
DEADLINE=${DEADLINE:-570}
CASES=${CASES:-smolvlm2-256m smolvlm2-500m 500m smolvlm2-2.2b 8b}
BENCH_CASES=${BENCH_CASES:-smolvlm2-2.2b 8b 2.2b}

say() { echo "$*" | tee -a "$S"; }
# budget WANT MIN: seconds a step may take (WANT, cut to what is left less 10 s), or 0 when
# fewer than MIN are left.
budget() {
  local want=$1 min=$2 left=$(( DEADLINE - (SECONDS - T0) - 10 ))
  if [ "$left" -lt "$min" ]; then echo 0; elif [ "$want" -lt "$left" ]; then echo "$want"; else echo "$left"; fi
}
pack() { tar czf "$OUT/logs.tgz" -C "$L" . 2>/dev/null; }

# name -> case folder, golden timeout, test timeout, smolvk run timeout, bench timeout (seconds;
# expected: about half of each)
case_info() {
  case "$1" in
    256m)          echo "full_size_256m 150 90 60 200" ;;
    2.2b)          echo "full_size_2b 200 120 90 240" ;;
    500m)          echo "full_size_500m 150 90 60 200" ;;
    smolvlm2-256m) echo "full_size_smolvlm2_256m 150 90 60 200" ;;
    smolvlm2-500m) echo "full_size_smolvlm2_500m 160 90 60 200" ;;
    smolvlm2-2.2b) echo "full_size_smolvlm2_2b 260 120 90 240" ;;
    8b)            echo "full_size_8b 360 180 120 300" ;;
    *)             echo "" ;;
  esac
}

say "s12_family: cases [$CASES], deadline ${DEADLINE}s, BENCH=${BENCH:-0}; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1); disk free $(df -h /tmp | awk 'NR==2{print $4}')"
for spec in $CASES; do
  name=${spec%%:*}; seed=; [ "$spec" != "$name" ] && seed=${spec#*:}
  info=$(case_info "$name")
  if [ -z "$info" ]; then say "$name: unknown case"; continue; fi
  read -r dir t_gold t_test t_run t_bench <<< "$info"
  d=$FULL/$dir
  rm -rf "$FULL"/full_size_*  # a previous case's checkpoint (disk)

  # 1. checkpoint + golden
  t=$(budget "$t_gold" $(( t_gold * 2 / 3 )))
  if [ "$t" -eq 0 ]; then
    say "$name: SKIPPED (needs about $(( t_gold * 2 / 3 ))s for its golden, $(( SECONDS - T0 ))s of ${DEADLINE}s used): run it in a command of its own"
    continue
  fi
  s0=$SECONDS
  timeout -k 10 "$t" python3 tools/goldens/make_goldens.py --full-size "$FULL" --full-cases "$name" \
    --full-steps "${FULL_STEPS:-16}" --min-margin "${MIN_MARGIN:-0.03}" --seed-tries "${SEED_TRIES:-3}" \
    ${seed:+--full-seed $seed} > "$L/golden_$name.log" 2>&1
  rc=$?
  stages=$(grep -E '^\s+\[ *[0-9.]+ s\]' "$L/golden_$name.log" | sed -E 's/^ +\[ *([0-9.]+) s\] ([^:]*).*/\2 \1s/' | paste -sd, -)
  say "$name: golden rc=$rc in $(( SECONDS - s0 ))s (timeout ${t}s) [$stages]"
  grep -E 'MIN_MARGIN|seed probe|!!|Error|error:' "$L/golden_$name.log" | head -8 | sed 's/^/    /' | tee -a "$S"
  if [ ! -f "$d/golden/golden.json" ]; then
    say "$name: no golden written; last lines:"; tail -15 "$L/golden_$name.log" | sed 's/^/    /' | tee -a "$S"
    pack; continue
  fi
  du -sh "$d" 2>/dev/null | awk '{print "    checkpoint " $1}' | tee -a "$S"

  # 2. the test
  t=$(budget "$t_test" $(( t_test / 3 )))
  if [ "$t" -gt 0 ]; then
    s0=$SECONDS
    SMOLVK_FULL_GOLDEN=$d timeout -k 10 "$t" "$BIN/test_model" --gtest_filter='FullSize.*' > "$L/test_$name.log" 2>&1
    rc=$?
    res=FAIL; [ $rc -eq 0 ] && grep -q '^\[  PASSED  \] 1 test' "$L/test_$name.log" && res=PASS
    grep -q '^\[  SKIPPED' "$L/test_$name.log" && res=SKIPPED
    say "$name: FullSize.MatchesTransformers $res (rc=$rc, $(( SECONDS - s0 ))s)"
    grep -E 'Failure|Which is|Expected|actual|greedy|logits|input|rel' "$L/test_$name.log" | head -12 | cut -c1-300 | sed 's/^/    /' | tee -a "$S"
  else
    say "$name: test SKIPPED (no time left)"
  fi

  # 3. smolvk run on the golden's request + the numbers
  t=$(budget "$t_run" $(( t_run / 3 )))
  if [ "$t" -gt 0 ]; then
    req=$(python3 - "$d" <<'EOF'
import json, os, sys
d = sys.argv[1]
g = json.load(open(os.path.join(d, "golden", "golden.json")))
r = next((r for r in g["requests"] if r.get("images") and r["images"][0]), g["requests"][0])
msg = r["messages"][0][0]
text = " ".join(i["text"] for i in msg["content"] if i["type"] == "text")
img = os.path.normpath(os.path.join(d, "golden", r["images_dir"], r["images"][0][0]))
print(img + "\t" + text + "\t" + str(len(r["greedy_ids"][0])))
EOF
)
    IFS=$'\t' read -r img text nsteps <<< "$req"
    s0=$SECONDS
    timeout -k 10 "$t" "$BIN/smolvk" run --model "$d" --image "$img" --prompt "$text" --max-new-tokens "${nsteps:-16}" \
      --ignore-eos --json --dump-logits "$L/logits_$name.npy" > "$L/run_$name.json" 2> "$L/run_$name.err"
    rc=$?
    say "$name: smolvk run rc=$rc ($(( SECONDS - s0 ))s): $(python3 tools/gpu/compare_full_golden.py "$d" "$L/run_$name.json" "$L/logits_$name.npy" 2>&1 | tee "$L/compare_$name.txt" | head -1)"
    [ $rc -ne 0 ] && tail -3 "$L/run_$name.err" | cut -c1-300 | sed 's/^/    /' | tee -a "$S"
  else
    say "$name: smolvk run SKIPPED (no time left)"
  fi

  # 4. side by side
  if [ -n "${BENCH:-}" ] && [ "${BENCH}" != 0 ] && [[ " $BENCH_CASES " == *" $name "* ]]; then
    t=$(budget "$t_bench" 90)
    if [ "$t" -gt 0 ]; then
      s0=$SECONDS
      timeout -k 10 "$t" python3 tools/bench/side_by_side.py --smolvk "$BIN/smolvk" --model "$d" \
        --json-out "$L/side_by_side_$name.json" > "$L/side_by_side_$name.txt" 2>&1
      say "$name: side by side rc=$? ($(( SECONDS - s0 ))s)"
      sed -n '/ratio: >1/,$p' "$L/side_by_side_$name.txt" | head -20 | tee -a "$S"
      grep -E 'FAILED' "$L/side_by_side_$name.txt" | head -4 | cut -c1-300 | tee -a "$S"
    else
      say "$name: side by side SKIPPED (no time left)"
    fi
  fi

  [ -n "${KEEP:-}" ] || rm -rf "$d"
  pack
done
say "s12_family: done in $(( SECONDS - T0 ))s"
pack
