# Run-level steps: `before:` runs once ahead of discovery (it builds the program that lists the
# benchmarks), `after:` once at the end, also after failures and an interrupt; both are recorded
# in the run's folder; a failing `before:` stops the run with its output before anything runs.
source "$(dirname "$0")/lib.sh"

cat >steps.yaml <<'YAML'
name: steps
before: "printf '#!/bin/sh\necho fast\necho slow\n' >lister.sh && chmod +x lister.sh && echo built; echo to-stderr >&2"
after: [sh, -c, "echo cleaned >>cleanup.txt; rm -f lister.sh"]
command: [sh, -c, "test {case} = fast"]
matrix:
  case: {discover: [./lister.sh]}
YAML
run_bm 1 run steps.yaml --out out
assert_contains out.txt "before: /bin/sh -c printf"
assert_contains out.txt "steps: 1 succeeded, 1 failed"
assert_eq "$(cat cleanup.txt)" "cleaned" "the after step ran once"
[ ! -e lister.sh ] || fail "the after step did not clean up"
run_dir=$(ls -d out/runs/*/ | head -1)
assert_contains "$run_dir/before.log" "built"
assert_contains "$run_dir/before.log" "to-stderr"
python3 - "$run_dir" <<'PY'
import json, sys
run = sys.argv[1]
summary = json.load(open(run + "/execution_summary.json"))
assert summary["before"]["outcome"] == "succeeded", summary["before"]
after = json.load(open(run + "/after.json"))
assert after["outcome"] == "succeeded" and after["command"][0] == "sh", after
PY

# --dry-run and `list` run neither step.
printf '#!/bin/sh\necho fast\n' >lister.sh && chmod +x lister.sh
run_bm 0 run steps.yaml --out dry --dry-run
assert_contains out.txt "before (not run with --dry-run)"
assert_eq "$(cat cleanup.txt)" "cleaned" "the after step ran in a dry run"
rm lister.sh

# A failing before: exit 2 with its status and last lines, nothing written, no task run.
cat >broken.yaml <<'YAML'
name: broken
before: "echo compiling; echo 'error: missing header' >&2; exit 4"
after: "echo after >>after_ran.txt"
command: [touch, ran.txt]
YAML
run_bm 2 run broken.yaml --out broken
assert_contains err.txt "broken.yaml:2:9: the before step failed (exit code 4); nothing was run"
assert_contains err.txt "| error: missing header"
[ ! -e broken ] && [ ! -e ran.txt ] || fail "a failed before step let the run start"

# An interrupt: the running task is ended, then the after step still runs; exit 130.
cat >interrupt.yaml <<'YAML'
name: interrupt
after: "echo after >>after_interrupt.txt"
command: [sleep, "30"]
task: {kill_grace: 200ms}
YAML
"$BENCHMATRIX" run interrupt.yaml --out interrupted >out.txt 2>err.txt &
pid=$!
for _ in $(seq 100); do
  [ -n "$(ls interrupted/tasks 2>/dev/null)" ] && break
  sleep 0.1
done
sleep 0.3
kill -INT "$pid"
code=0
wait "$pid" || code=$?
assert_eq "$code" 130 "exit code after an interrupt"
assert_eq "$(cat after_interrupt.txt)" "after" "the after step ran after the interrupt"

# A failing after step turns a clean run into exit 1, and says why.
cat >after_fails.yaml <<'YAML'
name: after_fails
after: [sh, -c, "echo cannot remove >&2; exit 3"]
command: ["true"]
YAML
run_bm 1 run after_fails.yaml --out af
assert_contains err.txt "after: sh -c echo cannot remove >&2; exit 3 (exit code 3)"
assert_contains err.txt "| cannot remove"

# Placeholders mean nothing in a run-level step.
cat >placeholder.yaml <<'YAML'
name: placeholder
before: "echo {case}"
command: ["true"]
YAML
run_bm 2 run placeholder.yaml --out ph
assert_contains err.txt "placeholder.yaml:2:9: before: runs once for the whole run"
