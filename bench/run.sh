#!/usr/bin/env bash
# The tool's own cost at the machine's limit, against the tools people use today.
#   bench/run.sh [TASKS] [REPETITIONS]      (defaults: 20000 tasks, 5 repetitions)
# Prints Markdown tables (medians of REPETITIONS runs) to stdout, progress to stderr:
#   1. trivial-task throughput (/bin/true): benchmatrix (isolation none / auto, durability off)
#      vs a minimal posix_spawn launcher (the limit), xargs -P, GNU parallel and make -j;
#   2. slot hand-off latency, from benchmatrix's own samples.csv timestamps;
#   3. parallel efficiency with 10 ms busy tasks (bench/spin.c);
#   4. measurement overhead: one task repeated 300 times vs hyperfine -N;
#   5. scale: planning / resume check / dry run of a 1,000,000-task config, memory per task,
#      peak RSS of a real 100,000-task run;
#   6. the price of each safety (cgroups, durability), derived from section 1;
#   7. the statistics pass (`report`) over millions of samples, and how fast it stops on SIGINT;
#   8. report.html of a 10,000-task matrix: how long it takes to write, and to open in Chromium.
# Slot counts: 1, 2 and, on machines with more than 2 cores, nproc-1.
# Section sizes (environment):
#   BENCH_EFF_TASKS=200         tasks per slot count in section 3
#   BENCH_EFF_MS=10             length of each section-3 task, milliseconds
#   BENCH_OVERHEAD_RUNS=300     measured runs in section 4 (warmup 3)
#   BENCH_SCALE_AXIS=100        values per axis of the section-5 config (100 -> 1,000,000 tasks)
#   BENCH_SCALE_FILTER='a=0,b=?'  the subset run for real before the resume check (1,000 tasks at 100)
#   BENCH_SCALE_REPS=REPS       repetitions of each section-5 timing
#   BENCH_RSS_TASKS=100000      tasks of the real run whose peak RSS is measured (1 repetition)
#   BENCH_STATS_SHAPES='200x20000 4x1000000'  section 7: TASKSxSAMPLES results trees, each with a baseline
#   BENCH_REPORT_AXIS=100       values per axis of the section-8 matrix (100 -> 10,000 tasks)
#   BENCH_SKIP='2 5'            sections to skip (1 and 6 go together)
#   BENCH_PEERS=0               section 1 without xargs, GNU parallel and make (comparing builds)
#   BENCHMATRIX=path            the benchmatrix binary to measure (default: ./build/benchmatrix)
# Needs: a built ./build/benchmatrix, cc, bc, awk, python3, /usr/bin/time; optional: GNU parallel,
# hyperfine, make (apt-get install parallel hyperfine make). Work dir: mktemp -d (respects TMPDIR).
set -euo pipefail
cmdline="bench/run.sh $*"
cd "$(dirname "$0")/.."
tasks=${1:-20000}
reps=${2:-5}
eff_tasks=${BENCH_EFF_TASKS:-200}
eff_ms=${BENCH_EFF_MS:-10}
overhead_runs=${BENCH_OVERHEAD_RUNS:-300}
scale_axis=${BENCH_SCALE_AXIS:-100}
scale_filter=${BENCH_SCALE_FILTER:-a=0,b=?}
scale_reps=${BENCH_SCALE_REPS:-$reps}
rss_tasks=${BENCH_RSS_TASKS:-100000}
stats_shapes=${BENCH_STATS_SHAPES:-200x20000 4x1000000}
report_axis=${BENCH_REPORT_AXIS:-100}
skip=" ${BENCH_SKIP:-} "
bm=${BENCHMATRIX:-$PWD/build/benchmatrix}  # BENCHMATRIX=path: another build (an older commit, say)
ncpu=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
skipped() { [[ $skip == *" $1 "* ]]; }
have() { command -v "$1" >/dev/null 2>&1; }

# The binary may be rebuilt by someone else while we run: wait for it a little.
wait_for_bm() {
  local i
  for i in $(seq 1 60); do [ -x "$bm" ] && return 0; sleep 2; done
  echo "no executable $bm (build it first)" >&2
  exit 1
}
wait_for_bm

median() { sort -g | awk 'NF {a[++n]=$1} END {if (!n) {print "nan"; exit} print (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2}'; }
# fmt FORMAT NUMBER: printf that prints "n/a" for a non-number.
fmt() { if [[ $2 =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]]; then printf "$1" "$2"; else printf 'n/a'; fi; }
# ratio A B: A / B to 2 decimals, or n/a.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else printf "n/a"}'; }
now() { date +%s.%N; }

# timed COMMAND...: runs it with its output hidden; prints "seconds exit_status".
timed() {
  local start end rc=0
  start=$(now)
  "$@" >/dev/null 2>&1 || rc=$?
  end=$(now)
  echo "$(echo "$end - $start" | bc -l) $rc"
}

# Slots: 1, 2, and nproc-1 when there are more than 2 cores.
slot_counts=(1 2)
if [ "$ncpu" -gt 2 ] && [ $((ncpu - 1)) -ne 2 ]; then slot_counts+=($((ncpu - 1))); fi
# bm_slots S: benchmatrix's options for S slots.
bm_slots() {
  local s=$1
  if [ "$s" -le $((ncpu - 1)) ]; then
    echo "--jobs $s"
  else
    seq -s, 0 $((s - 1)) | sed 's/^/--cores /'
  fi
}
have_durability=0
if [[ $("$bm" run --help 2>&1 || true) == *--durability* ]]; then have_durability=1; fi
have_parallel=0
if have parallel && [[ $(parallel --version 2>&1 </dev/null || true) == *"GNU parallel"* ]]; then have_parallel=1; fi

# ---- tools ----
log "compiling bench/launcher.c and bench/spin.c"
cc -O2 -o "$work/launcher" bench/launcher.c
spin_kind=static
if ! cc -O2 -static -o "$work/spin" bench/spin.c 2>/dev/null; then
  spin_kind=dynamic
  cc -O2 -o "$work/spin" bench/spin.c
fi

# matrix_config FILE NAME N COMMAND_JSON: N tasks, axis i = 0..N-1.
matrix_config() {
  printf 'name: %s\ncommand: %s\nmatrix: {i: [%s]}\n' "$2" "$4" "$(seq -s, 0 $(($3 - 1)))" >"$1"
}

# ---- machine facts ----
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
[ -n "$cpu_model" ] || cpu_model=$(lscpu 2>/dev/null | awk -F': *' '/Model name/ {print $2; exit}' || true)
fs_type=$(df -T "$work" 2>/dev/null | awk 'NR == 2 {print $2}')
# What "isolation auto" means here: a run with --isolation cgroup tells whether cgroups work.
printf 'name: probe\ncommand: ["/bin/true"]\n' >"$work/probe.yaml"
isolation="none available (isolation auto falls back to affinity and process groups)"
if "$bm" run "$work/probe.yaml" --out "$work/probe" --isolation cgroup >/dev/null 2>&1; then
  isolation=$(python3 -c 'import json, glob, sys; print(json.load(open(glob.glob(sys.argv[1] + "/runs/*/execution_summary.json")[0]))["context"].get("isolation", "cgroups"))' "$work/probe" 2>/dev/null || echo cgroups)
fi
rm -rf "$work/probe"
echo "# benchmatrix benchmarks"
echo
echo "Command: \`$cmdline\` (TASKS=$tasks, REPS=$reps, BENCH_EFF_TASKS=$eff_tasks, BENCH_EFF_MS=$eff_ms," \
  "BENCH_OVERHEAD_RUNS=$overhead_runs, BENCH_SCALE_AXIS=$scale_axis, BENCH_SCALE_FILTER='$scale_filter'," \
  "BENCH_SCALE_REPS=$scale_reps, BENCH_RSS_TASKS=$rss_tasks${BENCH_SKIP:+, BENCH_SKIP='$BENCH_SKIP'})"
echo
echo "| fact | value |"
echo "|---|---|"
echo "| date | $(date -u '+%Y-%m-%d %H:%M:%S UTC') |"
echo "| commit | $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)') |"
echo "| cores (nproc) | $ncpu |"
echo "| CPU | ${cpu_model:-unknown} |"
echo "| kernel | $(uname -r) |"
echo "| work dir filesystem | ${fs_type:-unknown} ($work) |"
echo "| cgroups (isolation auto) | $isolation |"
echo "| benchmatrix binary | $bm ($("$bm" --version 2>/dev/null | head -1 || echo '?')) |"
echo "| slot counts | ${slot_counts[*]} |"
echo

# ---- hand-off latency from one samples.csv: prints "p50_us p99_us max_us count" ----
handoff() {
  python3 - "$1" <<'EOF'
import csv, sys
from collections import defaultdict
by_slot = defaultdict(list)
with open(sys.argv[1], newline="") as f:
    r = csv.reader(f)
    head = next(r)
    im, iv, ist, isl = (head.index(c) for c in ("metric", "value", "started_unix", "slot"))
    for row in r:
        if row[im] == "wall_time":
            by_slot[row[isl]].append((float(row[ist]), float(row[iv])))
gaps = []
for runs in by_slot.values():
    runs.sort()
    for (s0, v0), (s1, _) in zip(runs, runs[1:]):
        gaps.append((s1 - (s0 + v0)) * 1e6)
if not gaps:
    print("nan nan nan 0")
    sys.exit()
gaps.sort()
def pct(p):  # nearest rank
    k = max(0, min(len(gaps) - 1, int(-(-p * len(gaps) // 100)) - 1))
    return gaps[k]
print(f"{pct(50):.1f} {pct(99):.1f} {gaps[-1]:.1f} {len(gaps)}")
EOF
}

# measure FILE NAME SLOTS NTASKS HOOK COMMAND...: REPS timed runs; appends to FILE
#   "NAME SLOTS median_seconds tasks_per_second" or "NAME SLOTS FAIL exit_status".
# HOOK (or -) is run after each successful repetition, while $work/out still exists.
measure() {
  local file=$1 name=$2 slots=$3 n=$4 hook=$5
  shift 5
  local times=() r t rc
  log "$name, $slots slot(s), $n tasks x $reps"
  for r in $(seq 1 "$reps"); do
    # Set aside, not deleted: mass deletion makes the next file creations on ext4 slower
    # (recently deleted inodes are skipped one by one) and would bias the next repetition.
    if [ -e "$work/out" ]; then mv "$work/out" "$(mktemp -u "$work/old.XXXXXX")"; fi
    read -r t rc < <(timed "$@")
    if [ "$rc" != 0 ]; then
      log "  $name failed with exit status $rc"
      echo "$name $slots FAIL $rc" >>"$file"
      return 0
    fi
    times+=("$t")
    if [ "$hook" != - ]; then "$hook" "$name" "$slots" || log "  $hook failed for $name"; fi
  done
  local m
  m=$(printf '%s\n' "${times[@]}" | median)
  printf '%s %s %s %s\n' "$name" "$slots" "$m" "$(echo "$n / $m" | bc -l)" >>"$file"
}
record_handoff() {  # NAME SLOTS: hand-off latency of the run in $work/out
  echo "$1 $2 $(handoff "$work/out/samples.csv")" >>"$work/handoff.txt"
}

# rate FILE NAME SLOTS: tasks/s of that row (empty if failed or absent)
rate() { awk -v n="$2" -v s="$3" '$1 == n && $2 == s && $3 != "FAIL" {print $4}' "$1"; }

# ==== 1. trivial-task throughput ====
if ! skipped 1; then
  matrix_config "$work/trivial.yaml" trivial "$tasks" '["/bin/true"]'
  awk -v n="$tasks" 'BEGIN {
    printf ".PHONY: all"; for (i = 0; i < n; i++) printf " t%d", i; printf "\nall:";
    for (i = 0; i < n; i++) printf " t%d", i; printf "\n";
    for (i = 0; i < n; i++) printf "t%d:\n\t@/bin/true\n", i }' >"$work/Makefile"
  : >"$work/throughput.txt"
  : >"$work/handoff.txt"
  for slots in "${slot_counts[@]}"; do
    read -ra sl <<<"$(bm_slots "$slots")"
    f=$work/throughput.txt
    measure "$f" launcher "$slots" "$tasks" - "$work/launcher" "$tasks" "$slots" /bin/true
    measure "$f" bm-none "$slots" "$tasks" record_handoff \
      "$bm" run "$work/trivial.yaml" --out "$work/out" --isolation none "${sl[@]}"
    measure "$f" bm-auto "$slots" "$tasks" record_handoff \
      "$bm" run "$work/trivial.yaml" --out "$work/out" --isolation auto "${sl[@]}"
    if [ "$have_durability" = 1 ]; then
      measure "$f" bm-none-nodur "$slots" "$tasks" record_handoff \
        "$bm" run "$work/trivial.yaml" --out "$work/out" --isolation none --durability off "${sl[@]}"
    fi
    [ "${BENCH_PEERS:-1}" = 1 ] || continue  # BENCH_PEERS=0: benchmatrix and the limit only
    measure "$f" xargs "$slots" "$tasks" - sh -c "seq $tasks | xargs -P $slots -n 1 /bin/true"
    if [ "$have_parallel" = 1 ]; then
      measure "$f" parallel "$slots" "$tasks" - sh -c "seq $tasks | parallel -j $slots /bin/true"
    fi
    if have make; then
      measure "$f" make "$slots" "$tasks" - make -s -f "$work/Makefile" -j "$slots"
    fi
  done

  label() {
    case $1 in
      launcher) echo "launcher (limit)" ;;
      bm-none) echo "benchmatrix --isolation none" ;;
      bm-auto) echo "benchmatrix (default: isolation auto)" ;;
      bm-none-nodur) echo "benchmatrix --isolation none --durability off" ;;
      xargs) echo "xargs -P S -n 1" ;;
      parallel) echo "GNU parallel -j S" ;;
      make) echo "make -j S" ;;
      *) echo "$1" ;;
    esac
  }
  echo "## 1. Trivial-task throughput"
  echo
  echo "$tasks runs of /bin/true; median of $reps repetitions. vs limit = tasks/s ÷ launcher's at the same slots" \
    "(a bare posix_spawn/wait loop); vs GNU parallel = tasks/s ÷ GNU parallel's."
  echo
  echo "| tool | slots | median s | tasks/s | vs limit | vs GNU parallel |"
  echo "|---|---:|---:|---:|---:|---:|"
  while read -r name slots time r; do
    if [ "$time" = FAIL ]; then
      echo "| $(label "$name") | $slots | failed (exit $r) | | | |"
      continue
    fi
    printf '| %s | %s | %.3f | %.0f | %s | %s |\n' "$(label "$name")" "$slots" "$time" "$r" \
      "$(ratio "$r" "$(rate "$work/throughput.txt" launcher "$slots")")" \
      "$(ratio "$r" "$(rate "$work/throughput.txt" parallel "$slots")")"
  done <"$work/throughput.txt"
  echo
  [ "$have_parallel" = 1 ] || echo "GNU parallel: not installed, skipped (apt-get install parallel)."
  have make || echo "make: not installed, skipped."
  [ "$have_durability" = 1 ] || echo "--durability off: this build's \`run --help\` has no --durability, row skipped."
  echo "benchmatrix at S slots: $(for s in "${slot_counts[@]}"; do printf '%s → `%s`; ' "$s" "$(bm_slots "$s")"; done | sed 's/; $/./')"
  echo
fi

# ==== 2. slot hand-off latency ====
if ! skipped 1 && ! skipped 2; then
  echo "## 2. Slot hand-off latency"
  echo
  echo "From the section-1 benchmatrix runs' samples.csv: per slot, wall_time rows sorted by started_unix;" \
    "hand-off = next start − (previous start + previous wall time), i.e. reaping, bookkeeping and spawning" \
    "the next task. All slots pooled; each percentile is the median over $reps repetitions."
  echo
  echo "| benchmatrix | slots | hand-offs per run | p50 µs | p99 µs | max µs |"
  echo "|---|---:|---:|---:|---:|---:|"
  for name in bm-none bm-auto bm-none-nodur; do
    for slots in "${slot_counts[@]}"; do
      rows=$(awk -v n="$name" -v s="$slots" '$1 == n && $2 == s' "$work/handoff.txt")
      [ -n "$rows" ] || continue
      p50=$(awk '{print $3}' <<<"$rows" | median)
      p99=$(awk '{print $4}' <<<"$rows" | median)
      pmax=$(awk '{print $5}' <<<"$rows" | median)
      cnt=$(awk '{print $6}' <<<"$rows" | median)
      case $name in
        bm-none) l="--isolation none" ;; bm-auto) l="default (isolation auto)" ;;
        *) l="--isolation none --durability off" ;;
      esac
      printf '| %s | %s | %.0f | %s | %s | %s |\n' "$l" "$slots" "$cnt" \
        "$(fmt %.1f "$p50")" "$(fmt %.1f "$p99")" "$(fmt %.1f "$pmax")"
    done
  done
  echo
fi

# ==== 3. parallel efficiency with 10 ms tasks ====
if ! skipped 3; then
  matrix_config "$work/spin.yaml" spin "$eff_tasks" "[\"$work/spin\", \"$eff_ms\"]"
  : >"$work/eff.txt"
  for slots in "${slot_counts[@]}"; do
    read -ra sl <<<"$(bm_slots "$slots")"
    f=$work/eff.txt
    measure "$f" launcher "$slots" "$eff_tasks" - "$work/launcher" "$eff_tasks" "$slots" "$work/spin" "$eff_ms"
    measure "$f" bm-none "$slots" "$eff_tasks" - \
      "$bm" run "$work/spin.yaml" --out "$work/out" --isolation none "${sl[@]}"
    measure "$f" bm-auto "$slots" "$eff_tasks" - \
      "$bm" run "$work/spin.yaml" --out "$work/out" --isolation auto "${sl[@]}"
    if [ "$have_parallel" = 1 ]; then
      measure "$f" parallel "$slots" "$eff_tasks" - sh -c "seq $eff_tasks | parallel -j $slots $work/spin $eff_ms"
    fi
  done
  echo "## 3. Parallel efficiency with ${eff_ms} ms tasks"
  echo
  echo "$eff_tasks tasks of bench/spin.c ($spin_kind binary: busy loop until ${eff_ms} ms after main() began)" \
    "per slot count; efficiency = ideal ÷ median actual, ideal = tasks × ${eff_ms} ms ÷ slots."
  echo
  echo "| tool | slots | ideal s | median s | efficiency | vs limit |"
  echo "|---|---:|---:|---:|---:|---:|"
  while read -r name slots time r; do
    case $name in
      launcher) l="launcher (limit)" ;; bm-none) l="benchmatrix --isolation none" ;;
      bm-auto) l="benchmatrix (default: isolation auto)" ;; parallel) l="GNU parallel -j S" ;; *) l=$name ;;
    esac
    ideal=$(echo "$eff_tasks * $eff_ms / 1000 / $slots" | bc -l)
    if [ "$time" = FAIL ]; then
      printf '| %s | %s | %.3f | failed (exit %s) | | |\n' "$l" "$slots" "$ideal" "$r"
      continue
    fi
    e=$(echo "$ideal / $time" | bc -l)
    le=$(awk -v s="$slots" '$1 == "launcher" && $2 == s && $3 != "FAIL" {print $3}' "$work/eff.txt")
    printf '| %s | %s | %.3f | %.3f | %.1f%% | %s |\n' "$l" "$slots" "$ideal" "$time" "$(echo "100 * $e" | bc -l)" \
      "$(ratio "$le" "$time")"
  done <"$work/eff.txt"
  echo
  echo "vs limit = launcher's median time ÷ this tool's (1.00 = as fast as the bare launcher)."
  [ "$have_parallel" = 1 ] || echo "GNU parallel: not installed, skipped."
  echo
fi

# ==== 4. measurement overhead ====
if ! skipped 4; then
  printf 'name: repeat\ncommand: ["/bin/true"]\nrepeat: {warmup: 3, runs: %s}\n' "$overhead_runs" >"$work/repeat.yaml"
  bm_meds=() hf_meds=()
  log "measurement overhead: benchmatrix repeat x $reps"
  for r in $(seq 1 "$reps"); do
    rm -rf "$work/out"
    if "$bm" run "$work/repeat.yaml" --out "$work/out" --jobs 1 >/dev/null 2>&1; then
      bm_meds+=("$(python3 - "$work/out/samples.csv" <<'EOF'
import csv, statistics, sys
with open(sys.argv[1], newline="") as f:
    r = csv.DictReader(f)
    v = [float(row["value"]) for row in r if row["metric"] == "wall_time"]
print(f"{statistics.median(v) * 1e6:.2f}" if v else "nan")
EOF
      )")
    else
      log "  benchmatrix repeat run failed"
    fi
  done
  pin=()
  if [ "$ncpu" -ge 2 ] && have taskset; then pin=(taskset -c 1); fi
  if have hyperfine; then
    log "measurement overhead: hyperfine x $reps"
    for r in $(seq 1 "$reps"); do
      if "${pin[@]}" hyperfine -N --warmup 3 --runs "$overhead_runs" --export-json "$work/hf.json" /bin/true \
        >/dev/null 2>&1; then
        hf_meds+=("$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1e6))' "$work/hf.json")")
      else
        log "  hyperfine failed"
      fi
    done
  fi
  bmm=$( ((${#bm_meds[@]})) && printf '%s\n' "${bm_meds[@]}" | median || echo nan)
  hfm=$( ((${#hf_meds[@]})) && printf '%s\n' "${hf_meds[@]}" | median || echo nan)
  echo "## 4. Measurement overhead"
  echo
  echo "Median wall time of /bin/true over $overhead_runs runs after 3 warmups; median over $reps repetitions." \
    "benchmatrix: one task with \`repeat: {warmup: 3, runs: $overhead_runs}\`, --jobs 1 (pinned to core 1)," \
    "its wall_time samples. hyperfine: \`${pin[*]:+${pin[*]} }hyperfine -N --warmup 3 --runs $overhead_runs\`, results[0].median."
  echo
  echo "| benchmatrix median µs | hyperfine median µs | benchmatrix ÷ hyperfine |"
  echo "|---:|---:|---:|"
  echo "| $(fmt %.1f "$bmm") | $(fmt %.1f "$hfm") | $(ratio "$bmm" "$hfm") |"
  echo
  have hyperfine || echo "hyperfine: not installed, skipped (apt-get install hyperfine)."
  echo
fi

# ==== 5. scale ====
if ! skipped 5; then
  vals=$(seq -s, 0 $((scale_axis - 1)))
  scale_n=$((scale_axis * scale_axis * scale_axis))
  printf 'name: scale\ncommand: ["/bin/true", "{a}", "{b}", "{c}"]\nmatrix: {a: [%s], b: [%s], c: [%s]}\n' \
    "$vals" "$vals" "$vals" >"$work/scale.yaml"
  printf 'name: one\ncommand: ["/bin/true"]\n' >"$work/one.yaml"
  # time_rss NAME COMMAND...: scale_reps runs under /usr/bin/time; appends "NAME median_s median_rss_kib" or "NAME FAIL rc"
  : >"$work/scale.txt"
  time_rss() {
    local name=$1 n=$2
    shift 2
    local es=() ms=() r rc start end
    log "scale: $name x $n"
    for r in $(seq 1 "$n"); do
      rc=0
      start=$(now)
      /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt" || rc=$?
      end=$(now)
      if [ "$rc" != 0 ]; then
        log "  $name failed (exit $rc): $(tail -1 "$work/err.txt")"
        echo "$name FAIL $rc" >>"$work/scale.txt"
        return 0
      fi
      es+=("$(echo "$end - $start" | bc -l)")
      ms+=("$(tail -1 "$work/time.txt" | awk '{print $2}')")
    done
    echo "$name $(printf '%s\n' "${es[@]}" | median) $(printf '%s\n' "${ms[@]}" | median)" >>"$work/scale.txt"
  }
  rm -rf "$work/empty"
  time_rss list-1 "$scale_reps" "$bm" list "$work/one.yaml" --out "$work/empty"
  time_rss list-empty "$scale_reps" "$bm" list "$work/scale.yaml" --out "$work/empty"
  rm -rf "$work/scaleout"
  log "scale: running the subset --filter '$scale_filter' for real"
  sub_rc=0
  "$bm" run "$work/scale.yaml" --out "$work/scaleout" --filter "$scale_filter" --isolation none \
    $(bm_slots "${slot_counts[-1]}") >/dev/null 2>"$work/err.txt" || sub_rc=$?
  [ "$sub_rc" = 0 ] || log "  subset run failed (exit $sub_rc): $(tail -1 "$work/err.txt")"
  summary=$("$bm" list "$work/scale.yaml" --out "$work/scaleout" 2>/dev/null | tail -1 || true)
  time_rss list-resume "$scale_reps" "$bm" list "$work/scale.yaml" --out "$work/scaleout"
  time_rss dry-run "$scale_reps" "$bm" run "$work/scale.yaml" --out "$work/scaleout" --dry-run --isolation none
  matrix_config "$work/rss.yaml" rss "$rss_tasks" '["/bin/true"]'
  rm -rf "$work/out"
  time_rss "real-run" 1 "$bm" run "$work/rss.yaml" --out "$work/out" --isolation none --jobs 1
  rm -rf "$work/out"

  srow() { awk -v n="$1" '$1 == n' "$work/scale.txt"; }
  echo "## 5. Scale"
  echo
  echo "Config: 3 axes × $scale_axis values = $scale_n tasks, command [\"/bin/true\", \"{a}\", \"{b}\", \"{c}\"]." \
    "Wall seconds (date +%s.%N around the command) and peak RSS (\`/usr/bin/time -f %M\`), medians of $scale_reps repetitions" \
    "(the real run: 1 repetition). Resume check: the subset \`--filter '$scale_filter'\` was run for real first" \
    "(exit $sub_rc; list then said: ${summary:-?})."
  echo
  echo "| what | tasks | wall s | peak RSS MiB |"
  echo "|---|---:|---:|---:|"
  for row in "list-1|1|\`list\` of a 1-task config" \
    "list-empty|$scale_n|\`list\`, empty OUT (plan only)" \
    "list-resume|$scale_n|\`list\`, OUT with the subset done (plan + resume check)" \
    "dry-run|$scale_n|\`run --dry-run\`, same OUT" \
    "real-run|$rss_tasks|real \`run\` of /bin/true, --isolation none --jobs 1 (1 repetition)"; do
    IFS='|' read -r key n what <<<"$row"
    read -r _ e m <<<"$(srow "$key")"
    if [ "${e:-}" = FAIL ]; then echo "| $what | $n | failed (exit $m) | |"; continue; fi
    printf '| %s | %s | %s | %s |\n' "$what" "$n" "$(fmt %.3f "${e:-}")" \
      "$(fmt %.1f "$(awk -v m="${m:-}" 'BEGIN {if (m != "") print m / 1024}')")"
  done
  read -r _ _ m1 <<<"$(srow list-1)"
  read -r _ _ mn <<<"$(srow list-empty)"
  read -r _ _ mr <<<"$(srow real-run)"
  bpt=$(awk -v a="${mn:-}" -v b="${m1:-}" -v n="$scale_n" 'BEGIN {if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) printf "%.0f", (a - b) * 1024 / n; else print "n/a"}')
  bpr=$(awk -v a="${mr:-}" -v b="${m1:-}" -v n="$rss_tasks" 'BEGIN {if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) printf "%.0f", (a - b) * 1024 / n; else print "n/a"}')
  echo
  echo "Memory per planned task: (peak RSS of \`list\` at $scale_n tasks − of a 1-task config) ÷ tasks = **$bpt bytes/task**." \
    "Same for the real $rss_tasks-task run: $bpr bytes/task (includes the fixed cost of running; meaningful at large task counts)."
  echo
fi

# ==== 6. the price of each safety ====
if ! skipped 1; then
  echo "## 6. The price of each safety"
  echo
  echo "From section 1 (tasks/s ratios, < 1 = slower). cgroups: default isolation auto ÷ --isolation none." \
    "durability: group commit (default) ÷ --durability off, both --isolation none."
  echo
  echo "| slots | cgroup per process (auto ÷ none) | group commit (group ÷ off) | both (default ÷ none+off) |"
  echo "|---:|---:|---:|---:|"
  t=$work/throughput.txt
  for slots in "${slot_counts[@]}"; do
    none=$(rate "$t" bm-none "$slots")
    auto=$(rate "$t" bm-auto "$slots")
    off=$(rate "$t" bm-none-nodur "$slots")
    echo "| $slots | $(ratio "$auto" "$none") | $(ratio "$none" "$off") | $(ratio "$auto" "$off") |"
  done
  echo
  [ "$have_durability" = 1 ] || echo "--durability off not available in this build: durability columns n/a."
  echo "cgroups here: $isolation."
  echo
fi
# ==== 7. the statistics pass ====
if ! skipped 7; then
  # emit.py: one run that reports SAMPLES log-normal samples in lines of at most 100,000.
  cat >"$work/emit.py" <<'PY'
import os, random
r = random.Random(int(os.environ["BENCHMATRIX_TASK_ID"][:8], 16))
n = int(os.environ["SAMPLES"])
with open(os.environ["BENCHMATRIX_RESULT_FILE"], "a") as f:
    while n > 0:
        k = min(n, 50000)  # lines stay under the protocol's 1 MiB
        f.write('{"metric": "latency", "unit": "s", "samples": [' + ",".join("%.9g" % r.lognormvariate(-7, 0.2) for _ in range(k)) + ']}\n')
        n -= k
PY
  echo "## 7. The statistics pass"
  echo
  echo "\`benchmatrix report OUT\` over results trees made by real runs (each task one process reporting SAMPLES" \
    "log-normal samples of one metric; a baseline axis, so every other task is compared with it): reading every" \
    "result.json, descriptive statistics, outliers, bootstrap intervals, Mann-Whitney, Hodges-Lehmann, Cliff's δ," \
    "corrections, and writing summary.json, samples.csv and comparison_table.md. Wall seconds and peak RSS, medians of" \
    "$reps repetitions. The limit it is set against: GNU \`sort -g\` of the same samples (one sort of all of them)." \
    "Stop: seconds from SIGINT (sent 1 s into a report) to its exit with 130."
  echo
  echo "| tasks × samples | samples | report wall s | peak RSS MiB | sort -g wall s | report ÷ sort | SIGINT to exit s |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for shape in $stats_shapes; do
    st=${shape%x*}
    ss=${shape#*x}
    half=$(( st / 2 > 0 ? st / 2 : 1 ))
    printf 'name: stats\ncommand: ["python3", "%s/emit.py"]\nenv: {SAMPLES: "%s"}\nmatrix:\n  v: [%s]\n  w: [%s]\nanalysis: {baseline: {v: 0}}\n' \
      "$work" "$ss" "$(seq -s, 0 $(( st / half - 1 )))" "$(seq -s, 0 $(( half - 1 )))" >"$work/stats.yaml"
    rm -rf "$work/stats"
    log "stats: making a tree of $st tasks x $ss samples"
    "$bm" run "$work/stats.yaml" --out "$work/stats" --durability off --isolation none >/dev/null 2>"$work/err.txt" ||
      log "  run failed: $(tail -1 "$work/err.txt")"
    es=(); ms=(); sorts=()
    for r in $(seq 1 "$reps"); do
      start=$(now)
      /usr/bin/time -f '%M' -o "$work/time.txt" "$bm" report "$work/stats" >/dev/null 2>&1 || true
      end=$(now)
      es+=("$(echo "$end - $start" | bc -l)")
      ms+=("$(tail -1 "$work/time.txt")")
      cut -d, -f"$(( $(head -1 "$work/stats/samples.csv" | tr ',' '\n' | grep -n '^value$' | cut -d: -f1) ))" \
        "$work/stats/samples.csv" | tail -n +2 >"$work/values.txt"
      start=$(now)
      sort -g "$work/values.txt" >/dev/null
      end=$(now)
      sorts+=("$(echo "$end - $start" | bc -l)")
    done
    "$bm" report "$work/stats" >/dev/null 2>&1 &
    pid=$!
    sleep 1
    start=$(now)
    kill -INT $pid 2>/dev/null || true
    code=0
    wait $pid || code=$?
    end=$(now)
    stop=$( [ "$code" = 130 ] && echo "$end - $start" | bc -l || echo "ended before (exit $code)")
    e=$(printf '%s\n' "${es[@]}" | median)
    m=$(printf '%s\n' "${ms[@]}" | median)
    so=$(printf '%s\n' "${sorts[@]}" | median)
    printf '| %s × %s | %s | %s | %s | %s | %s | %s |\n' "$st" "$ss" "$(( st * ss ))" "$(fmt %.2f "$e")" \
      "$(fmt %.0f "$(awk -v m="$m" 'BEGIN {print m / 1024}')")" "$(fmt %.2f "$so")" "$(ratio "$e" "$so")" \
      "$( [[ $stop =~ ^[0-9.]+$ ]] && fmt %.3f "$stop" || echo "$stop")"
    rm -rf "$work/stats" "$work/values.txt"
  done
  echo
fi
# ==== 8. report.html of a large matrix ====
if ! skipped 8; then
  rt=$(( report_axis * report_axis ))
  echo "## 8. report.html of a $rt-task matrix"
  echo
  echo "A real run of $report_axis × $report_axis tasks (\`true\`, 3 runs each; axis a's first value the baseline, so" \
    "$(( rt - report_axis )) comparisons), then \`benchmatrix report OUT --export-html\` (read the tree, the statistics," \
    "the page) against \`--export-json\` alone (the same work but the page) and \`cp\` of the page (the disk's" \
    "limit); then the page opened from disk in headless Chromium until every chart is drawn, against a page that only" \
    "parses the same embedded data (the browser's floor). Medians of $reps repetitions."
  echo
  printf 'name: report\ncommand: ["true", "{a}", "{b}"]\nmatrix:\n  a: [%s]\n  b: [%s]\nrepeat: {runs: 3}\nanalysis: {baseline: {a: 0}}\n' \
    "$(seq -s, 0 $(( report_axis - 1 )))" "$(seq -s, 0 $(( report_axis - 1 )))" >"$work/report.yaml"
  log "report: running $rt tasks"
  "$bm" run "$work/report.yaml" --out "$work/report" --durability off --isolation none --quiet --progress never \
    >/dev/null 2>"$work/err.txt" || log "  run: $(tail -1 "$work/err.txt")"
  hs=(); js=(); cs=()
  for r in $(seq 1 "$reps"); do
    start=$(now); "$bm" report "$work/report" --export-html "$work/page.html" >/dev/null 2>&1; end=$(now)
    hs+=("$(echo "$end - $start" | bc -l)")
    start=$(now); "$bm" report "$work/report" --export-json "$work/summary.json" >/dev/null 2>&1; end=$(now)
    js+=("$(echo "$end - $start" | bc -l)")
    start=$(now); cp "$work/page.html" "$work/copy.html"; sync "$work/copy.html"; end=$(now)
    cs+=("$(echo "$end - $start" | bc -l)")
  done
  size=$(stat -c %s "$work/page.html")
  # The floor: the same data island, parsed and nothing else.
  python3 - "$work/page.html" "$work/floor.html" <<'PY'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
data = re.search(r'<script type="application/json" id="bm-data">.*?</script>', page, re.S).group(0)
open(sys.argv[2], "w", encoding="utf-8").write("<!DOCTYPE html><html><body>" + data +
    "<script>JSON.parse(document.getElementById('bm-data').textContent);"
    "document.body.dataset.readyAt = String(Math.round(performance.now())); document.body.dataset.ready = 'yes';</script></body></html>")
PY
  opens=$(/usr/bin/python3 - "$work/page.html" "$work/floor.html" "$reps" <<'PY' 2>"$work/open-err.txt" || echo "n/a n/a"
import statistics, sys, tempfile
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1800",
             "--disable-background-networking", "--remote-debugging-pipe", "--user-data-dir=" + tempfile.mkdtemp()]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
result = []
for page in sys.argv[1:3]:
    times = []
    for _ in range(int(sys.argv[3])):
        driver.get("about:blank")
        driver.get("file://" + page)
        WebDriverWait(driver, 600).until(lambda d: d.execute_script("return document.body && document.body.dataset.ready") == "yes")
        times.append(int(driver.execute_script("return document.body.dataset.readyAt")) / 1000)
    result.append("%.2f" % statistics.median(times))
driver.quit()
print(" ".join(result))
PY
)
  h=$(printf '%s\n' "${hs[@]}" | median)
  j=$(printf '%s\n' "${js[@]}" | median)
  c=$(printf '%s\n' "${cs[@]}" | median)
  echo "| tasks | page MiB | write report.html s | write summary.json s | cp of the page s | open until drawn s | open: parse the data only s |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$rt" "$(fmt %.1f "$(awk -v s="$size" 'BEGIN {print s / 1048576}')")" \
    "$(fmt %.2f "$h")" "$(fmt %.2f "$j")" "$(fmt %.3f "$c")" ${opens}
  echo
  rm -rf "$work/report" "$work"/*.html "$work/summary.json"
fi
log "done"
