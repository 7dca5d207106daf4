# Isolation with a cgroup per process, where this machine allows it (cgroup v2 with delegated
# controllers, or the v1 hierarchies): a memory limit ends a task as "out of memory", a process
# that escaped its process group with setsid() is still ended, the task sees only its cpuset, and
# the kernel's memory accounting lands in the results. Elsewhere: skipped (exit 77), and the
# fallback notice is checked instead.
source "$(dirname "$0")/lib.sh"

cat >cg.yaml <<'YAML'
name: cg
command: ["sh", "-c", "{case.script}"]
matrix:
  case:
    - {name: hog, script: "python3 -c 'b = bytearray(300 * 1024 * 1024)'", task: {memory: 100MiB}}
    - {name: small, script: "python3 -c 'b = bytearray(20 * 1024 * 1024)'", task: {memory: 100MiB}}
    - {name: escape, script: "setsid sleep 77.25 & echo started"}
    - {name: where, script: "cat /proc/self/cgroup"}
YAML
code=0
"$BENCHMATRIX" run cg.yaml --out out --isolation cgroup >out.txt 2>err.txt &
pid=$!
wait $pid || code=$?
if [ "$code" = 2 ] && grep -q "cgroups cannot be used here" err.txt; then
  # No cgroups: the default run says so once and still refuses memory limits it cannot enforce.
  run_bm 2 run cg.yaml --out out2
  assert_contains err.txt "task.memory and task.pids are enforced with cgroups"
  echo "isolation_test: skipped ($(cat err.txt))"
  exit 77
fi
assert_eq "$code" 1 "exit code (the memory hog fails)"
assert_contains out.txt "case=hog  run 1 of 1: out of memory"
assert_contains out.txt "cg: 3 succeeded, 1 failed"
assert_contains out/tasks/where/stdout.log "/benchmatrix-"
sleep 0.2
if pgrep -f "sleep 77.25" >/dev/null; then
  pkill -f "sleep 77.25"
  fail "a setsid() escapee outlived its task"
fi
python3 - out <<'PY'
import json, sys
small = json.load(open(sys.argv[1] + "/tasks/small/result.json"))
run = small["runs"][0]
assert run["cgroup_memory_peak"] >= 20 * 1024 * 1024, run
assert small["context"]["isolation"].startswith("cgroup v"), small["context"]
hog = json.load(open(sys.argv[1] + "/tasks/hog/failure.json"))
assert hog["runs"][0]["oom_killed"] is True, hog["runs"][0]
PY
# Nothing is left behind: the per-process cgroups and that run's own are removed.
leftover=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "benchmatrix-$pid" 2>/dev/null || true)
[ -z "$leftover" ] || fail "cgroups left behind: $leftover"
# The empty cgroups of a benchmatrix that was killed (it could not remove them) are removed by
# the next run; pid 4194304 is above any pid_max, so no live process owns that name.
line=$(grep -m1 -E '^[0-9]+:(cpuset)?:.*/benchmatrix-' out/tasks/where/stdout.log || true)
controller=$(echo "$line" | cut -d: -f2)
cgroup_path=$(echo "$line" | cut -d: -f3-)
stale_dir=/sys/fs/cgroup${controller:+/$controller}${cgroup_path%/benchmatrix-*}
if [ -n "$stale_dir" ] && mkdir "$stale_dir/benchmatrix-4194304" 2>/dev/null; then
  run_bm 0 run cg.yaml --out out-stale --isolation cgroup --filter case=where
  [ ! -e "$stale_dir/benchmatrix-4194304" ] || fail "a dead run's empty cgroup was not removed"
fi
run_bm 0 run cg.yaml --out out-none --isolation none --filter case=where
assert_not_contains out-none/tasks/where/stdout.log "/benchmatrix-"
echo "isolation_test: ok"
