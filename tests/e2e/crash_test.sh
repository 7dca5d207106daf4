# Crash consistency: benchmatrix is SIGKILLed at random moments during a run of hundreds of
# short tasks, then resumed; afterwards every task has exactly one complete result, no file is
# half-written, the journal parses, and no task that had completed ran again. Processes a killed
# run left behind are ended by the next run.
source "$(dirname "$0")/lib.sh"

values=$(seq -s, 0 299)
cat >many.yaml <<YAML
name: many
command: ["sh", "-c", "echo {i}"]
matrix: {i: [$values]}
YAML

RANDOM=42  # deterministic kill times
for round in $(seq 1 10); do
  "$BENCHMATRIX" run many.yaml --out out --cores 0,1 >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(( RANDOM % 25 + 5 ))"
  kill -KILL $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
done
run_bm 0 run many.yaml --out out --cores 0,1
assert_contains out.txt "many:"

python3 - out <<'PY'
import json, os, sys
out = sys.argv[1]
plan = json.load(open(os.path.join(out, "plan.json")))
ids = {t["path"]: t["task_id"] for t in plan["tasks"]}
assert len(ids) == 300, len(ids)
for path, task_id in ids.items():
    result = json.load(open(os.path.join(out, "tasks", path, "result.json")))  # complete JSON
    assert result["task_id"] == task_id and result["status"] == "succeeded", (path, result.get("status"))
for root, _, files in os.walk(out):
    for name in files:
        assert ".tmp." not in name, os.path.join(root, name)
started_after_done = []
done = set()
lines = open(os.path.join(out, "journal.jsonl")).read().split("\n")
assert lines[-1] == "", "the journal ends with a complete line"
for line in lines[:-1]:
    event = json.loads(line)  # every complete line parses
    if event["event"] == "task-succeeded":
        assert event["path"] not in done, ("succeeded twice", event["path"])
        done.add(event["path"])
    if event["event"] == "task-started" and event["path"] in done:
        started_after_done.append(event["path"])
assert not started_after_done, ("completed tasks ran again", started_after_done[:5])
PY

# Property: random values (everything that sanitizes alike, nested joins, shell metacharacters)
# and random kill points, in a shell-mode matrix. After the last resume every task has exactly
# one complete result, in a folder of its own, holding what that task wrote.
python3 - <<'PY'
import json, random
r = random.Random(7)
alphabet = ["a", "b", "_", "/", "-", ":", ".", "A", "0", "f", " ", "$", "'", '"', "`", "\\", "*"]
def values(k):
    out = set()
    while len(out) < k:
        out.add("".join(r.choice(alphabet) for _ in range(r.randint(1, 5))))
    return sorted(out)
a = []
for v in values(12):
    a.append({"name": v, "matrix": {"s": values(3)}} if r.random() < 0.4 else v)
config = {"name": "prop", "shell": True,
          "command": "printf '%s|%s|%s' {a} {s} {b} > {result_dir}/written",
          "matrix": {"a": a, "b": values(4)}}
json.dump(config, open("prop.yaml", "w"))
PY
RANDOM=4242
for round in $(seq 1 6); do
  "$BENCHMATRIX" run prop.yaml --out prop-out --cores 0,1 >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(( RANDOM % 30 + 3 ))"
  kill -KILL $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
done
run_bm 0 run prop.yaml --out prop-out --cores 0,1
python3 - prop-out <<'PY'
import json, os, sys
out = sys.argv[1]
plan = json.load(open(os.path.join(out, "plan.json")))
paths = [t["path"] for t in plan["tasks"]]
assert len(set(p.lower() for p in paths)) == len(paths), "two tasks share a folder"
for task in plan["tasks"]:
    folder = os.path.join(out, "tasks", task["path"])
    result = json.load(open(os.path.join(folder, "result.json")))
    assert result["task_id"] == task["task_id"] and result["status"] == "succeeded", task
    axes = result["spec"]["axes"]
    expected = "|".join([axes["a"], axes.get("s", ""), axes["b"]])
    assert open(os.path.join(folder, "written")).read() == expected, (task["path"], expected)
for root, _, files in os.walk(out):
    assert not any(".tmp." in name for name in files), root
print("property: %d tasks, each its own complete result" % len(paths))
PY

# A killed run's process is found and ended by the next run.
cat >orphan.yaml <<'YAML'
name: orphan
command: ["sh", "-c", "{i.script}"]
matrix:
  i:
    - {name: hang, script: "exec sleep 59.123"}
    - {name: quick, script: "true"}
YAML
"$BENCHMATRIX" run orphan.yaml --out orphan-out --filter i=hang >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do pgrep -f "sleep 59.123" >/dev/null && break; sleep 0.05; done
pgrep -f "sleep 59.123" >/dev/null || fail "the task never started"
kill -KILL $pid
wait $pid 2>/dev/null || true
pgrep -f "sleep 59.123" >/dev/null || fail "the orphan died with benchmatrix; nothing to test"
run_bm 0 run orphan.yaml --out orphan-out --filter i=quick
assert_contains out.txt "ended 1 process left running by an earlier run that was killed"
for _ in $(seq 1 50); do
  alive=$( (pgrep -f "sleep 59.123" || true) | while read -r p; do [ "$(ps -o stat= -p "$p" | cut -c1)" != Z ] && echo "$p"; done)
  [ -z "$alive" ] && break
  sleep 0.1
done
[ -z "$alive" ] || fail "the orphaned process is still running: $alive"

# What a killed run left behind when the task's leader had already exited: a grandchild still in
# the task's process group, and one that left it with setsid(). Without cgroups
# (--isolation none) the next run finds them by process group and by their environment; with
# them, by cgroup. Neither can write into the re-run's metrics.
cat >ghost.yaml <<'YAML'
name: ghost
command: ["sh", "-c", "{i.script}"]
matrix:
  i:
    - name: leaves
      script: >-
        sh -c 'sleep 2.345; echo "{\"metric\": \"ghost\", \"value\": 1}" >> "$BENCHMATRIX_RESULT_FILE"' &
        setsid sh -c 'sleep 2.567; echo "{\"metric\": \"ghost\", \"value\": 2}" >> "$BENCHMATRIX_RESULT_FILE"' &
        sleep 0.6
YAML
for isolation in none auto; do
  rm -rf ghost-out
  "$BENCHMATRIX" run ghost.yaml --out ghost-out --isolation $isolation >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do pgrep -f "sleep 2.567" >/dev/null && break; sleep 0.05; done
  kill -KILL $pid
  wait $pid 2>/dev/null || true
  sleep 0.8  # the leader exits after benchmatrix died: only its descendants are left
  pgrep -f "sleep 2.345" >/dev/null && pgrep -f "sleep 2.567" >/dev/null || fail "no ghost left ($isolation); nothing to test"
  printf 'name: ghost\ncommand: ["sh", "-c", "sleep 3"]\nmatrix: {i: [leaves]}\n' >ghost2.yaml
  run_bm 0 run ghost2.yaml --out ghost-out --isolation $isolation
  assert_contains out.txt "processes left running by an earlier run that was killed"
  pgrep -f "sleep 2.345" >/dev/null && fail "a grandchild in the task's group survived ($isolation)"
  pgrep -f "sleep 2.567" >/dev/null && fail "a setsid() grandchild survived ($isolation)"
  python3 - ghost-out <<'PY'
import json, sys
result = json.load(open(sys.argv[1] + "/tasks/leaves/result.json"))
assert "ghost" not in result["metrics"], result["metrics"]
PY
done
echo "crash_test: ok"
