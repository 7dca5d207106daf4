#!/usr/bin/env bash
# The gate's promise, measured: ROUNDS rounds of `benchmatrix run --gate` of one interleaved
# matrix of two Google Benchmark builds (examples/gbench_gate.yaml: BM_hash is 2x slower in the
# second), and ROUNDS rounds of an A/A run (the same build as both values), optionally with
# LOAD busy processes competing for the CPUs. Prints one line per round and the totals: A/B rounds
# are right when they exit 3 naming exactly BM_hash; A/A rounds when they exit 0.
#   bench/verdict_rounds.sh [ROUNDS=10] [LOAD=2]      (from the repository root, after the build)
set -euo pipefail
rounds=${1:-10}
load=${2:-2}
bm=${BENCHMATRIX:-./build/benchmatrix}  # a copy keeps the rounds apart from a rebuild
work=$(mktemp -d /tmp/bm-rounds.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 "$load"); do (while :; do :; done) & pids+=($!); done
sed 's|{name: new, binary: ./build/examples/gbench_kernels_slow}|{name: new, binary: ./build/examples/gbench_kernels}|' \
  examples/gbench_gate.yaml >"$work/aa.yaml"
ab_right=0
aa_right=0
for round in $(seq 1 "$rounds"); do
  for kind in ab aa; do
    config=examples/gbench_gate.yaml
    [ "$kind" = aa ] && config="$work/aa.yaml"
    code=0
    "$bm" run "$config" --gate --out "$work/$kind-$round" >"$work/out.txt" 2>&1 || code=$?
    regressed=$(grep -E "^  build=new benchmark=.* regressed: " "$work/out.txt" | awk '{print $1}' | tr '\n' ' ' || true)
    disturbed=$(grep -c "ran disturbed" "$work/out.txt" || true)
    right=no
    if [ "$kind" = ab ] && [ "$code" = 3 ] && [ "$regressed" = "build=new " ] && grep -qE "^  build=new benchmark=BM_hash/16384 .* regressed: " "$work/out.txt"; then right=yes; ab_right=$((ab_right + 1)); fi
    if [ "$kind" = aa ] && [ "$code" = 0 ]; then right=yes; aa_right=$((aa_right + 1)); fi
    echo "round $round $kind: exit $code, regressed: ${regressed:-none}, disturbed tasks: $disturbed, right: $right" \
      "($(grep -E '^[0-9]+ regressed' "$work/out.txt" | head -1 || true))"
  done
done
echo "A/B right in $ab_right of $rounds rounds; A/A clean in $aa_right of $rounds (load: $load busy processes)"
