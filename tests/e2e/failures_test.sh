# A bad task fails alone: non-zero exit, a signal, a hang past its timeout, a flood of output and
# a missing command are each recorded with their reason while the rest complete; a re-run retries
# only those.
source "$(dirname "$0")/lib.sh"

cat >failures.yaml <<'YAML'
name: failures
command: ["sh", "-c", "{case.script}"]
matrix:
  case:
    - {name: ok1, script: "true"}
    - {name: exits, script: "echo boom >&2; exit 3"}
    - {name: signal, script: "kill -SEGV $$"}
    - {name: hangs, script: "sleep 600", task: {timeout: 300ms, kill_grace: 200ms}}
    - {name: floods, script: "head -c 200000000 /dev/zero; exit 4"}
    - {name: missing, script: "exec /nonexistent/benchmark"}
    - {name: ok2, script: "echo fine"}
task: {timeout: 60s}
YAML
start=$(date +%s)
/usr/bin/time -f "%M" -o rss.txt "$BENCHMATRIX" run failures.yaml --out out >out.txt 2>err.txt && code=0 || code=$?
assert_eq "$code" 1 "exit code with failed tasks"
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -lt 60 ] || fail "the hanging task was not ended by its timeout (took ${elapsed}s)"
assert_contains out.txt "failures: 2 succeeded, 5 failed"
assert_contains out.txt "case=exits  run 1 of 1: exit code 3"
assert_contains out.txt "case=signal  run 1 of 1: killed by signal 11 (SIGSEGV)"
assert_contains out.txt "case=hangs  run 1 of 1: timed out"
assert_contains out.txt "case=floods  run 1 of 1: exit code 4"
assert_contains out.txt "case=missing  run 1 of 1: exit code 127"
assert_contains out.txt "logs: $PWD/out/tasks/exits/stderr.log"
assert_contains out/tasks/exits/stderr.log "boom"
[ -s out/tasks/ok1/result.json ] && [ -s out/tasks/ok2/result.json ] || fail "successful tasks have no result"
for task in exits signal hangs floods missing; do
  [ -s "out/tasks/$task/failure.json" ] || fail "no failure.json for $task"
  [ ! -e "out/tasks/$task/result.json" ] || fail "a failed task has a result.json: $task"
done
size=$(stat -c %s out/tasks/floods/stdout.log)
# The default output_limit keeps 64 MiB of each stream: its first and last 32 MiB and a marker.
[ "$size" -ge $((64 << 20)) ] && [ "$size" -lt $(((64 << 20) + 1000)) ] || fail "flooded stdout.log is $size bytes"
grep -q "bytes dropped here" out/tasks/floods/stdout.log || fail "no marker where output was dropped"
assert_contains out.txt "stdout wrote 200000000 bytes; 132891136 were dropped"
rss=$(tail -n 1 rss.txt)
[ "$rss" -lt 100000 ] || fail "benchmatrix grew to ${rss} KiB while a task flooded 200 MB"
python3 - out/tasks/hangs/failure.json <<'PY'
import json, sys
failure = json.load(open(sys.argv[1]))
run = failure["runs"][0]
assert failure["status"] == "failed"
assert run["timed_out"] is True and run["signal"] == 15, run
assert run["wall_time"] < 10, run
PY
rm -f out/tasks/floods/stdout.log

# A program that does not exist is one error before anything runs, not a failure per task; by
# name (searched in PATH) or by path, and per value when an axis picks the program.
cat >missing.yaml <<'YAML'
name: missing
command: ["/nonexistent/benchmark", "--n", "{n}"]
matrix: {n: [1, 2, 3]}
YAML
run_bm 2 run missing.yaml --out out-missing
assert_contains err.txt "missing.yaml:2:11: command not found before anything ran: /nonexistent/benchmark: no such executable (the command of 3 tasks, e.g. n=1)"
[ ! -e out-missing ] || fail "a missing program left a results folder"
printf '#!/bin/sh\n' >not-executable.sh
cat >missing-axis.yaml <<'YAML'
name: missing-axis
command: ["{prog}"]
matrix: {prog: [true, benchmatrix-no-such-program, ./not-executable.sh]}
YAML
run_bm 2 run missing-axis.yaml --out out-missing --dry-run
assert_contains err.txt "benchmatrix-no-such-program: no such executable (the command of prog=benchmatrix-no-such-program; searched in PATH)"
assert_contains err.txt "./not-executable.sh: no such executable"
# A setup may build the program: such tasks are not checked, and fail alone if it does not.
cat >built.yaml <<'YAML'
name: built
setup: ["sh", "-c", "if [ {m} = a ]; then printf '#!/bin/sh\\necho built\\n' >prog-{m}; chmod +x prog-{m}; fi"]
command: ["./prog-{m}"]
matrix: {m: [a, b]}
YAML
run_bm 1 run built.yaml --out out-built
assert_contains out-built/tasks/a/stdout.log "built"
assert_contains out.txt "could not start"

# --halt: the first failed task stops the run; soon lets running tasks finish, now ends them. The
# running task sleeps long enough that the failing one ends first even on a loaded machine.
cat >halt.yaml <<'YAML'
name: halt
command: ["sh", "-c", "case {i} in 0) sleep 3;; 1) exit 3;; esac"]
matrix:
  i: [0, 1, 2, 3]
YAML
run_bm 1 run halt.yaml --out halt-soon --halt soon --jobs 2 --use-core0
assert_contains out.txt "halt: 1 succeeded, 1 failed, 0 interrupted, 2 not started"
assert_contains out.txt "Stopped: halted at the first failed task, i=1 (--halt soon): running tasks finished, nothing more started"
sed -i 's/sleep 3;/sleep 30;/' halt.yaml
start=$(date +%s)
run_bm 1 run halt.yaml --out halt-now --halt now --jobs 2 --use-core0
[ $(($(date +%s) - start)) -lt 20 ] || fail "--halt now let the running task go on"
assert_contains out.txt "halt: 0 succeeded, 1 failed, 1 interrupted, 2 not started"
run_bm 2 run halt.yaml --out never --halt sometimes
[ ! -e never ] || fail "a bad --halt left a results folder"

# Re-running retries only the failed tasks.
run_bm 1 run failures.yaml --out out
assert_contains out.txt "2 tasks already done, skipped"
assert_contains out.txt "Running 5 tasks"
assert_eq "$(count_events out task-started)" 12 "task starts after the re-run"

# --retries re-attempts within the run.
run_bm 1 run failures.yaml --out out --filter case=exits --retries 2
assert_contains out.txt "(attempt 1 failed, retrying)"
assert_contains out.txt "(attempt 2 failed, retrying)"
assert_eq "$(grep -c "case=exits" out.txt)" 4 "lines about the retried task"
# Too many open files: with a tiny descriptor limit, starts wait for running tasks to give
# descriptors back instead of failing.
printf 'name: fds\ncommand: ["sleep", "0.05"]\nmatrix: {i: [%s]}\n' "$(seq -s, 0 19)" >fds.yaml
(ulimit -n 24; run_bm 0 run fds.yaml --out fds-out --jobs 12 --oversubscribe)
assert_contains out.txt "fds: 20 succeeded, 0 failed"
echo "failures_test: ok"
