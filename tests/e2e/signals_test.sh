# Signals and pipes in every phase, and concurrent commands on one OUT: a closed stdout stops a
# run cleanly (its tasks ended, the summary written); a hanging discovery command ends on SIGINT or
# SIGTERM; an interrupt during the statistics of an all-done run exits 130 and leaves the old
# reports as they were; `report` is serialised with `run` on OUT and cleans up after a killed
# writer; another config cannot silently take over an OUT.
source "$(dirname "$0")/lib.sh"

alive() {  # PATTERN: whether a non-zombie process matches
  local pids
  pids=$(pgrep -f "$1" || true)
  for p in $pids; do
    [ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" != Z ] && [ -n "$(ps -o stat= -p "$p" 2>/dev/null)" ] && return 0
  done
  return 1
}

# A closed stdout (`| head -1`): SIGPIPE stops starting, ends the running task, writes the
# execution summary, exits 130; nothing is left running.
printf 'name: pipe\ncommand: ["sleep", "{i}"]\nmatrix: {i: [0.01, 0.02, 30.5, 0.03]}\n' >pipe.yaml
start=$(date +%s)
set +o pipefail
"$BENCHMATRIX" run pipe.yaml --out pipe-out 2>pipe-err.txt | head -c 1 >/dev/null
code=${PIPESTATUS[0]}
set -o pipefail
assert_eq "$code" 130 "exit code when stdout closed"
[ $(( $(date +%s) - start )) -lt 20 ] || fail "the run went on after its output was closed"
alive "sleep 30.5" && fail "a task survived the closed pipe"
python3 - pipe-out <<'PY'
import glob, json, sys
summaries = glob.glob(sys.argv[1] + "/runs/*/execution_summary.json")
assert len(summaries) == 1, summaries
summary = json.load(open(summaries[0]))
assert summary["interrupted"] and summary["signal"] == 13, summary
PY

# A discovery command that hangs ends on SIGINT or SIGTERM, with its whole process group.
printf 'name: disc\ncommand: [x, "{a}"]\nmatrix:\n  a: {discover: [sh, -c, "sleep 100.5; echo a"]}\n' >disc.yaml
for signal in INT TERM; do
  "$BENCHMATRIX" run disc.yaml --out disc-out >out.txt 2>err.txt &
  pid=$!
  for _ in $(seq 1 100); do alive "sleep 100.5" && break; sleep 0.05; done
  alive "sleep 100.5" || fail "discovery never started"
  kill -$signal $pid
  code=0
  wait $pid || code=$?
  assert_eq "$code" 130 "exit code of an interrupted discovery (SIG$signal)"
  assert_contains err.txt "interrupted by SIG$signal"
  for _ in $(seq 1 50); do alive "sleep 100.5" || break; sleep 0.05; done
  alive "sleep 100.5" && fail "the discovery command survived SIG$signal"
  [ ! -e disc-out ] || fail "an interrupted discovery wrote its results folder"
done

# An interrupt during the statistics after an all-done run: 130, and the reports of the last
# complete pass stay as they were (each report file appears whole or not at all).
cat >emit.py <<'PY'
import os, random
r = random.Random(int(os.environ["BENCHMATRIX_TASK_ID"][:8], 16))
with open(os.environ["BENCHMATRIX_RESULT_FILE"], "a") as f:
    for _ in range(5):  # lines of at most 1 MiB
        f.write('{"metric": "t", "samples": [' + ",".join("%.6g" % r.random() for _ in range(100000)) + ']}\n')
PY
printf 'name: slowstats\ncommand: ["python3", "%s/emit.py"]\nmatrix: {v: [a, b, c, d]}\nrepeat: {runs: 1}\nanalysis: {baseline: {v: a}}\n' "$PWD" >slow.yaml
run_bm 0 run slow.yaml --out slow-out
cp slow-out/summary.json summary.before
"$BENCHMATRIX" run slow.yaml --out slow-out --force >out.txt 2>err.txt &
pid=$!
for _ in $(seq 1 1500); do [ "$(grep -c '"run-finished"' slow-out/journal.jsonl)" -ge 2 ] && break; sleep 0.02; done
kill -INT $pid || fail "the run ended before its statistics could be interrupted"
code=0
wait $pid || code=$?
assert_eq "$code" 130 "exit code of an interrupt during the final statistics"
assert_contains err.txt "interrupted by SIGINT"
cmp -s summary.before slow-out/summary.json || fail "an interrupted statistics pass changed summary.json"
ls slow-out | grep -q '\.tmp\.' && fail "an interrupted statistics pass left a temporary file"
# The same for `report`.
"$BENCHMATRIX" report slow-out >out.txt 2>err.txt &
pid=$!
sleep 0.5
kill -TERM $pid || fail "the report ended before it could be interrupted"
code=0
wait $pid || code=$?
assert_eq "$code" 130 "exit code of an interrupted report"
cmp -s summary.before slow-out/summary.json || fail "an interrupted report changed summary.json"

# report and run are serialised on OUT; --output writes elsewhere without the lock.
printf 'name: lock\ncommand: ["sleep", "{s}"]\nmatrix: {s: [0.01, 4]}\n' >lock.yaml
"$BENCHMATRIX" run lock.yaml --out lock-out >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -e lock-out/tasks/0.01/result.json ] && break; sleep 0.02; done
run_bm 2 report lock-out
assert_contains err.txt "is in use by another benchmatrix run (pid $pid"
assert_contains err.txt "before this report"
[ ! -e lock-out/summary.json ] || fail "a refused report wrote summary.json"
run_bm 0 report lock-out --output elsewhere
[ -s elsewhere/summary.json ] && [ -s elsewhere/samples.csv ] || fail "report --output wrote nothing"
wait $pid
# A killed report's temporary files are removed by the next report.
touch lock-out/summary.json.tmp.99999 lock-out/samples.csv.tmp.99998
run_bm 0 report lock-out
ls lock-out | grep -q '\.tmp\.' && fail "report left a killed writer's temporary files"

# Another config into an existing OUT is refused (exit 2, nothing written) unless --force.
printf 'name: other\ncommand: ["true"]\nmatrix: {s: [0.01, 4]}\n' >other.yaml
before=$(find lock-out -type f | sort | xargs md5sum | md5sum)
run_bm 2 run other.yaml --out lock-out
assert_contains err.txt "holds the results of the config named 'lock', not 'other'"
assert_eq "$(find lock-out -type f | sort | xargs md5sum | md5sum)" "$before" "OUT after a refused run"
run_bm 0 run other.yaml --out lock-out --force
assert_contains out.txt "other: 2 succeeded"
echo "signals_test: ok"
