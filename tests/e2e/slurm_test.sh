# The SLURM executor against a real one-node SLURM (slurmctld, slurmd and munged started by
# scripts/slurm-cluster.sh as plain daemons in this test's folder): the bundled example gives the
# same results layout and report as a local run; a failing task fails alone; a cancelled element
# is classified and re-queued; Ctrl-C cancels the jobs and a re-run finishes the rest; a driver
# killed outright is followed by the next one without submitting again; GPU tasks ask for GRES and
# get their GPU; arrays split at MaxArraySize and elements bundle tasks; a controller that times
# out is retried.
source "$(dirname "$0")/lib.sh"

command -v slurmctld >/dev/null && command -v munged >/dev/null || {
  echo "SKIP: slurm-wlm and munge are not installed (setup.sh installs them)"
  exit 77
}

CLUSTER="$WORK/cluster"
trap '"$SOURCE_DIR/scripts/slurm-cluster.sh" stop "$CLUSTER" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
SLURM_TEST_MAX_ARRAY=5 "$SOURCE_DIR/scripts/slurm-cluster.sh" start "$CLUSTER" >cluster.txt
export SLURM_CONF="$CLUSTER/slurm.conf"

# queue_of OUT: the elements of OUT's job name still in the queue.
job_name() { python3 -c 'import json,sys; print(next(json.loads(l)["job_name"] for l in open(sys.argv[1]) if "slurm-submitted" in l))' "$1/journal.jsonl"; }
# driver_exited EXPECTED WHAT LOGS...: the background driver ($driver) ended with EXPECTED.
driver_exited() {
  local expected=$1 what=$2 code=0
  shift 2
  wait "$driver" || code=$?
  [ "$code" = "$expected" ] || { cat "$@" >&2; fail "$what exited $code, not $expected"; }
}
wait_until() {  # SECONDS WHAT COMMAND...
  local seconds=$1 what=$2
  shift 2
  local end=$((SECONDS + seconds))
  until "$@" 2>/dev/null; do
    [ $SECONDS -lt $end ] || fail "waited ${seconds}s for: $what"
    sleep 0.2
  done
}

# --- The bundled example, locally and on SLURM: the same tasks, files and report.
sed "s|./build/examples/sortbench|$SORTBENCH|" "$SOURCE_DIR/examples/sorting.yaml" >sorting.yaml
echo "executor: {type: slurm, poll: 1s}" >>sorting.yaml
run_bm 0 run sorting.yaml --filter 'n=10000' --out local --executor local
run_bm 0 run sorting.yaml --filter 'n=10000' --out cluster
assert_contains out.txt "7 tasks to run on SLURM"
assert_contains out.txt "Submitted job array"
assert_contains out.txt "7 done, 0 failed"
assert_contains out.txt "7 of 14 tasks done"
layout() { (cd "$1" && find tasks -type f ! -name monitor.csv | sort; ls summary.json samples.csv comparison_table.md report.html plan.json); }
diff <(layout local) <(layout cluster) >layout.diff || { cat layout.diff >&2; fail "the results layouts differ"; }
run_bm 0 report local
sed -n '/tasks done:/,/^$/p' out.txt | awk '{print $1, $2, $3, $4}' >report-local.txt
run_bm 0 report cluster
sed -n '/tasks done:/,/^$/p' out.txt | awk '{print $1, $2, $3, $4}' >report-cluster.txt
diff report-local.txt report-cluster.txt >report.diff || { cat report.diff >&2; fail "the reports' task tables differ"; }
grep -q "std_sort" report-cluster.txt || fail "the report lists no task"
python3 - cluster <<'PY'
import glob, json, sys
out = sys.argv[1]
result = json.load(open(out + "/tasks/std_sort/10000/random/result.json"))
assert result["status"] == "succeeded" and result["metrics"]["sort_time"]["n"] == 10, result["metrics"]
context = result["context"]
assert context["slurm_node"] == "bmnode" and context["slurm_array_job_id"], context
# The elements' journals are merged into OUT's, each event naming its element; their run and
# process events are renamed so that no later run takes their pids for its own.
events = [json.loads(line) for line in open(out + "/journal.jsonl")]
succeeded = [e for e in events if e["event"] == "task-succeeded"]
assert len(succeeded) == 7 and all(e.get("element") for e in succeeded), succeeded
assert not any(e["event"] == "process-started" for e in events)
assert any(e["event"] == "element-process-started" for e in events)
# Seven elements of one CPU each, split at MaxArraySize (5): two arrays.
submitted = [e for e in events if e["event"] == "slurm-submitted"]
assert [len(e["elements"]) for e in submitted] == [5, 2], submitted
assert "--cpus-per-task=1" in submitted[0]["sbatch"] and "--signal=B:USR2@90" in submitted[0]["sbatch"]
assert any(a.startswith("--time=") for a in submitted[0]["sbatch"]), "the tasks' timeouts give a time limit"
started = glob.glob(out + "/runs/*/elements/*/element.json")
assert len(started) == 7 and json.load(open(started[0]))["node"] == "bmnode"
PY
# A second run finds everything done and submits nothing.
run_bm 0 run sorting.yaml --filter 'n=10000' --out cluster
assert_contains out.txt "0 tasks to run on SLURM"
assert_not_contains out.txt "Submitted"

# --- A failing task fails alone; bundling puts two tasks in each element.
cat >fail.yaml <<'YAML'
name: fail
command: ["sh", "-c", "echo '{{\"metric\": \"score\", \"value\": {n}}}' >>\"$BENCHMATRIX_RESULT_FILE\"; test {n} != 3"]
matrix:
  n: [1, 2, 3, 4]
repeat: {runs: 2}
executor: {type: slurm, poll: 1s, tasks_per_element: 2}
YAML
run_bm 1 run fail.yaml --out fail --events events.jsonl
assert_contains out.txt "Submitted job array"
assert_contains out.txt "(2 elements, 4 tasks"
assert_contains out.txt "FAIL  n=3  run 1 of 2: exit code 1"
assert_contains out.txt "3 done, 1 failed"
assert_contains out.txt "Failed tasks"
[ -f fail/tasks/3/failure.json ] && [ -f fail/tasks/4/result.json ] || fail "the failing task did not fail alone"
python3 - <<'PY'
import json
events = [json.loads(line) for line in open("events.jsonl")]
kinds = [e["event"] for e in events]
assert kinds[0] == "plan" and kinds[-1] == "summary", kinds
ends = {e["label"]: e for e in events if e["event"] == "end"}
assert ends["n=3"]["status"] == "failed" and "exit code 1" in ends["n=3"]["reason"], ends
assert ends["n=1"]["status"] == "succeeded"
assert events[-1]["completed"] == 3 and events[-1]["failed"] == 1, events[-1]
PY

# --- An element cancelled from outside is classified and its task re-queued.
cat >cancel.yaml <<'YAML'
name: cancel
command: ["sh", "-c", "sleep {s}"]
matrix:
  s: ["0.1", "3"]
executor: {type: slurm, poll: 1s}
YAML
"$BENCHMATRIX" run cancel.yaml --out cancel >cancel.txt 2>&1 &
driver=$!
wait_until 30 "the sleeping element to start" sh -c 'ls cancel/runs/*/elements/*_1/element.json'
first=$(basename "$(dirname "$(ls cancel/runs/*/elements/*_1/element.json | head -1)")")
scancel "$first"
driver_exited 0 "the run with a cancelled element" cancel.txt cancel/runs/*/slurm/*.out
assert_contains cancel.txt "requeue s=3: cancelled"
assert_contains cancel.txt "2 done, 0 failed"
[ "$(count_events cancel slurm-lost)" = 1 ] || fail "one loss is journaled"
[ "$(count_events cancel slurm-submitted)" = 2 ] || fail "the lost task is submitted again"

# --- SLURM's warning before a preemption (USR2 to the batch shell, as --signal=B:USR2@90 sends it):
# the worker ends its task and records why; the driver re-queues the task as preempted.
cat >preempt.yaml <<'YAML'
name: preempt
command: ["sh", "-c", "test -n {s} && exec sleep ${{PREEMPT_SLEEP:-0}}"]
matrix:
  s: [only]
executor: {type: slurm, poll: 1s}
YAML
PREEMPT_SLEEP=2 "$BENCHMATRIX" run preempt.yaml --out preempt >preempt.txt 2>&1 &
driver=$!
wait_until 30 "the element to start its task" sh -c 'grep -q task-started preempt/runs/*/elements/*_0/journal.jsonl'
key=$(basename "$(dirname "$(ls preempt/runs/*/elements/*_0/element.json | head -1)")")
scancel --batch --signal=USR2 "$key"
driver_exited 0 "the preempted run" preempt.txt
assert_contains preempt.txt "requeue s=only: preempted"
assert_contains preempt.txt "1 done, 0 failed"
grep -q '"signal":12' preempt/runs/*/elements/"$key"/journal.jsonl || fail "the element did not record SIGUSR2"

# --- Ctrl-C cancels the run's jobs, keeps what finished; a re-run runs the rest. How long the
# tasks sleep comes from the inherited environment (sbatch passes it on), not from their spec.
cat >stop.yaml <<'YAML'
name: stop
command: ["sh", "-c", "test -n {s} && exec sleep ${{STOP_SLEEP:-0}}"]
matrix:
  s: [a, b, c]
executor: {type: slurm, poll: 1s}
YAML
STOP_SLEEP=60 "$BENCHMATRIX" run stop.yaml --out stop >stop.txt 2>&1 &
driver=$!
wait_until 30 "the elements to start" sh -c '[ $(ls stop/runs/*/elements/*/element.json | wc -l) = 3 ]'
kill -INT $driver
driver_exited 130 "the driver stopped by Ctrl-C" stop.txt
assert_contains stop.txt "Cancelling job"
name=$(job_name stop)
[ -z "$(squeue -h --name="$name")" ] || fail "jobs are left in the queue after Ctrl-C: $(squeue -h --name="$name")"
[ ! -e stop/tasks/a/result.json ] || fail "an interrupted task has a result"
STOP_SLEEP=0.1 run_bm 0 run stop.yaml --out stop
assert_contains out.txt "3 tasks to run on SLURM"
assert_contains out.txt "3 done, 0 failed"

# --- A driver killed outright (SIGKILL) leaves its jobs queued; the next run follows them.
cat >follow.yaml <<'YAML'
name: follow
command: ["sh", "-c", "sleep {s}"]
matrix:
  s: ["2", "2.5"]
executor: {type: slurm, poll: 1s}
YAML
"$BENCHMATRIX" run follow.yaml --out follow >follow1.txt 2>&1 &
driver=$!
wait_until 30 "the submission" sh -c 'grep -q slurm-submitted follow/journal.jsonl'
kill -KILL $driver
wait $driver 2>/dev/null || true
run_bm 0 run follow.yaml --out follow
assert_contains out.txt "Following 2 tasks an earlier invocation submitted"
assert_not_contains out.txt "Submitted job array"
assert_contains out.txt "2 done, 0 failed"
[ "$(count_events follow slurm-submitted)" = 1 ] || fail "the follower submitted again"

# --- GPU tasks ask for GRES and run on the GPU SLURM gave them.
cat >gpu.yaml <<'YAML'
name: gpu
command: ["sh", "-c", "echo \"$BENCHMATRIX_GPUS/$CUDA_VISIBLE_DEVICES\" >\"$BENCHMATRIX_RESULT_DIR/gpus.txt\""]
matrix:
  k: [a, b]
task: {gpus: 1}
executor: {type: slurm, poll: 1s}
YAML
run_bm 0 run gpu.yaml --out gpu
python3 - gpu <<'PY'
import json, sys
out = sys.argv[1]
events = [json.loads(line) for line in open(out + "/journal.jsonl")]
submitted = [e for e in events if e["event"] == "slurm-submitted"]
assert "--gres=gpu:1" in submitted[0]["sbatch"], submitted[0]["sbatch"]
for k in "ab":
    seen = open(f"{out}/tasks/{k}/gpus.txt").read().strip()
    gpus, visible = seen.split("/")
    assert gpus in ("0", "1") and visible == gpus, seen
PY

# --- An element running two GPU tasks side by side on the two GPUs it asked for.
cat >pair.yaml <<'YAML'
name: pair
command: ["sh", "-c", "echo \"$BENCHMATRIX_GPUS\" >\"$BENCHMATRIX_RESULT_DIR/gpus.txt\"; sleep 0.5"]
matrix:
  k: [a, b]
task: {gpus: 1}
executor: {type: slurm, poll: 1s, tasks_per_element: 2, tasks_at_once: 2}
YAML
run_bm 0 run pair.yaml --out pair
assert_contains out.txt "(1 element, 2 tasks"
grep -q -- '--gres=gpu:2' pair/journal.jsonl || fail "the element did not ask for two GPUs"
assert_eq "$(cat pair/tasks/a/gpus.txt pair/tasks/b/gpus.txt | sort | tr '\n' ' ')" "0 1 " "each task had a GPU of its own"

# --- Seed 004's BenchmarkExecutor from Python, on the cluster.
PYTHONPATH="$SOURCE_DIR/python:$SOURCE_DIR/tests/python" BENCHMATRIX_BIN="$BENCHMATRIX" python3 - <<'PY'
from benchmatrix import AdapterConfig, BenchmarkConfig, BenchmarkExecutor
from mock_seed004 import StreamingConfig
events = []
executor = BenchmarkExecutor([0, 1], 4, "seed004", progress=events.append, extra_args=["--executor", "slurm"])
results = executor.run_benchmark_matrix(["m/a", "m/b"], [("dense", None), ("streaming", StreamingConfig(4, 64))],
                                        [BenchmarkConfig("longbench", ["narrativeqa", "qasper"])], AdapterConfig(),
                                        {"max_new_tokens": 8})
assert len(results.individual_results) == 8 and not results.failed_executions, results.failed_executions
assert {e["event"] for e in events} >= {"plan", "end", "summary"}
PY

# --- A controller that times out is tried again, with backoff, and the run goes on.
mkdir -p flaky
cat >flaky/sbatch <<SH
#!/bin/sh
count=\$(cat "$WORK/flaky/count" 2>/dev/null || echo 0)
echo \$((count + 1)) >"$WORK/flaky/count"
if [ "\$count" -lt 2 ] && [ "\$1" != --version ]; then
  echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2
  exit 1
fi
exec $(command -v sbatch) "\$@"
SH
chmod +x flaky/sbatch
cat >flaky.yaml <<'YAML'
name: flaky
command: ["true"]
executor: {type: slurm, poll: 1s}
YAML
PATH="$WORK/flaky:$PATH" run_bm 0 run flaky.yaml --out flaky-out
assert_contains err.txt "Socket timed out"
assert_contains err.txt "trying again in"
assert_contains out.txt "1 done, 0 failed"

# --- A lasting refusal: before anything is queued it is the run's error (exit 2); once elements
# are queued, they run on and the refused tasks wait for the next run.
cat >refuse.yaml <<'YAML'
name: refuse
command: ["sh", "-c", "test -n {i}"]
matrix:
  i: [1, 2, 3, 4, 5, 6, 7]
executor: {type: slurm, poll: 1s, partition: nosuchpartition}
YAML
run_bm 2 run refuse.yaml --out refuse
assert_contains err.txt "sbatch refused array-1"
assert_contains err.txt "invalid partition"
sed -i 's/, partition: nosuchpartition//' refuse.yaml
mkdir -p refusing
cat >refusing/sbatch <<SH
#!/bin/sh
count=\$(cat "$WORK/refusing/count" 2>/dev/null || echo 0)
echo \$((count + 1)) >"$WORK/refusing/count"
if [ "\$count" -ge 2 ]; then
  echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2
  exit 1
fi
exec $(command -v sbatch) "\$@"
SH
chmod +x refusing/sbatch
# Calls: --version, the first array (5 elements, MaxArraySize 5), then the second is refused.
PATH="$WORK/refusing:$PATH" run_bm 1 run refuse.yaml --out refuse2
assert_contains err.txt "sbatch refused array-2"
assert_contains out.txt "5 done, 0 failed, 2 not submitted"
run_bm 0 run refuse.yaml --out refuse2
assert_contains out.txt "2 tasks to run on SLURM"
assert_contains out.txt "2 done, 0 failed"

# --- A worker that refuses its element (its config is gone by the time it starts) is not re-queued.
cat >gone.yaml <<'YAML'
name: gone
command: ["sh", "-c", "test -n {i}"]
matrix:
  i: [1]
executor: {type: slurm, poll: 1s, sbatch: ["--begin=now+3"]}
YAML
"$BENCHMATRIX" run gone.yaml --out gone >gone.txt 2>&1 &
driver=$!
wait_until 30 "the submission" sh -c 'grep -q slurm-submitted gone/journal.jsonl'
rm gone.yaml
driver_exited 1 "the run of a refused element" gone.txt
assert_contains gone.txt "LOST  i=1: the worker refused element"
assert_not_contains gone.txt "requeue"

# --- Bad input: an executor key it does not know, a --jobs meant for the local executor.
cat >bad.yaml <<'YAML'
name: bad
command: ["true"]
executor: {type: slurm, partitions: gpu}
YAML
run_bm 2 run bad.yaml --out bad
assert_contains err.txt "partitions"
run_bm 2 run fail.yaml --out fail --jobs 2
assert_contains err.txt "--jobs/--parallel is for the local executor"
echo "slurm: all checks passed"
