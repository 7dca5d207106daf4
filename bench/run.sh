#!/usr/bin/env bash
# The tool's own cost at the machine's limit, against the tools people use today.
#   bench/run.sh [TASKS] [REPETITIONS]      (defaults: 2000 tasks, 5 repetitions)
# Prints a Markdown table of medians: trivial-task throughput of benchmatrix (with and without a
# cgroup per process) vs a minimal posix_spawn launcher (the limit), xargs -P and GNU parallel,
# for 1 and 2 slots. Needs: a built ./build/benchmatrix, cc, GNU parallel (apt-get install parallel).
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-2000}
reps=${2:-5}
bm=$PWD/build/benchmatrix
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/launcher" bench/launcher.c
printf 'name: trivial\ncommand: ["/bin/true"]\nmatrix: {i: [%s]}\n' "$(seq -s, 0 $((tasks - 1)))" >"$work/trivial.yaml"

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
measure() {  # NAME SLOTS COMMAND...: prints "NAME SLOTS median_seconds tasks_per_second"
  local name=$1 slots=$2
  shift 2
  local times=()
  for _ in $(seq 1 "$reps"); do
    rm -rf "$work/out"
    times+=("$(seconds "$@")")
  done
  local m
  m=$(printf '%s\n' "${times[@]}" | median)
  printf '%s %s %s %.0f\n' "$name" "$slots" "$m" "$(echo "$tasks / $m" | bc -l)"
}

cores=() ; [ "$(nproc)" -ge 2 ] && cores=(--cores 0,1)
{
  for slots in 1 2; do
    cpuset=(--jobs 1); [ "$slots" = 2 ] && cpuset=("${cores[@]}")
    measure "launcher(limit)" "$slots" "$work/launcher" "$tasks" "$slots" /bin/true
    measure "benchmatrix(no-cgroups)" "$slots" "$bm" run "$work/trivial.yaml" --out "$work/out" --isolation none "${cpuset[@]}"
    measure "benchmatrix(cgroups)" "$slots" "$bm" run "$work/trivial.yaml" --out "$work/out" --isolation auto "${cpuset[@]}"
    measure "xargs-P" "$slots" sh -c "seq $tasks | xargs -P $slots -n 1 /bin/true"
    if command -v parallel >/dev/null; then
      measure "gnu-parallel" "$slots" sh -c "seq $tasks | parallel -j $slots /bin/true"
    fi
  done
} | tee "$work/results.txt"

echo
echo "| tool | slots | median time (s) | tasks/s | vs limit |"
echo "|---|---:|---:|---:|---:|"
while read -r name slots time rate; do
  limit=$(awk -v s="$slots" '$1 == "launcher(limit)" && $2 == s {print $4}' "$work/results.txt")
  printf '| %s | %s | %.3f | %s | %.2f |\n' "$name" "$slots" "$time" "$rate" "$(echo "$rate / $limit" | bc -l)"
done <"$work/results.txt"
