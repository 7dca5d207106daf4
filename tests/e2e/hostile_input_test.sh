# Hostile input: every config in tests/hostile_configs is refused with exit 2, a location and the
# expected message, and nothing written; generated monsters (1 MB values, deep nesting) too;
# hostile axis values never escape OUT or reach a shell; hostile task output never fails a run.
source "$(dirname "$0")/lib.sh"

count=0
for file in "$SOURCE_DIR"/tests/hostile_configs/*.yaml; do
  name=$(basename "$file" .yaml)
  expect=$(head -n 1 "$file" | sed 's/^# expect: //')
  run_bm 2 run "$file" --out "out-$name"
  assert_contains err.txt "$expect"
  grep -qE "$name\.yaml(:[0-9]+(:[0-9]+)?)?: " err.txt || fail "$name: the error names no location: $(cat err.txt)"
  [ ! -e "out-$name" ] && [ ! -e results ] || fail "$name: something was written"
  count=$((count + 1))
done
[ "$count" -ge 40 ] || fail "only $count hostile configs"

# A 1 MB value, and nesting 1000 deep.
python3 - <<'PY'
open("huge.yaml", "w").write("name: t\ncommand: [x, '{nope}']\nmatrix: {a: ['" + "v" * 1_000_000 + "']}\n")
open("deep.yaml", "w").write("name: t\ncommand: [x]\nanalysis: " + "[" * 1000 + "]" * 1000 + "\n")
open("wide.yaml", "w").write("name: t\ncommand: [x]\nmatrix: {a: [" + ",".join(map(str, range(5000))) +
                             "], b: [" + ",".join(map(str, range(5000))) + "]}\n")
PY
run_bm 2 run huge.yaml --out o
assert_contains err.txt "huge.yaml:2:14: unknown placeholder {nope}"
run_bm 2 run deep.yaml --out o
assert_contains err.txt "deep.yaml:3:"
python3 -c "open('deeper.yaml', 'w').write('name: t\ncommand: [x]\nenv: ' + '{a: ' * 100000 + '1' + '}' * 100000 + '\n')"
run_bm 2 run deeper.yaml --out o
assert_contains err.txt "deeper.yaml:3:"
assert_contains err.txt "nesting is too deep here"
# Config paths that are not regular files are refused at once: a FIFO would block forever,
# /dev/zero would grow memory without end.
mkfifo fifo.yaml
run_bm 2 run fifo.yaml --out o
assert_contains err.txt "fifo.yaml: the config is a FIFO (a pipe), not a regular file"
run_bm 2 run /dev/zero --out o
assert_contains err.txt "/dev/zero: the config is a device, not a regular file"
run_bm 2 list "$PWD" --out o
assert_contains err.txt "the config is a folder, not a regular file"
head -c 40000000 /dev/zero | tr '\0' '#' >big.yaml
run_bm 2 run big.yaml --out o
assert_contains err.txt "big.yaml: the config is 40000000 bytes; more than 32 MiB is refused"
run_bm 2 run wide.yaml --out o
assert_contains err.txt "the matrix expands to 25000000 tasks; more than 20000000 is refused"
[ ! -e o ] || fail "a refused config wrote its results folder"

# Hostile axis values in a valid config: passed as one argv word, never through a shell, and
# their folders stay inside OUT.
mkdir canary
cat >values.yaml <<'YAML'
name: values
command: ["sh", "-c", "printf %s \"$0\" > \"$BENCHMATRIX_RESULT_DIR/arg\"", "{v}"]
matrix:
  v: ["../../canary/escaped", "/etc/passwd", "a\nb", "$(touch pwned)", "`touch pwned`; rm -rf canary", "..", ".", "x/../../y", "''\"\""]
YAML
run_bm 0 run values.yaml --out out
assert_contains out.txt "values: 9 succeeded, 0 failed"
[ -z "$(ls -A canary)" ] || fail "something was written outside OUT"
[ ! -e pwned ] && [ ! -e out/pwned ] || fail "a value reached a shell"
python3 - out <<'PY'
import json, os, sys
out = os.path.realpath(sys.argv[1])
plan = json.load(open(os.path.join(out, "plan.json")))
expected = ["../../canary/escaped", "/etc/passwd", "a\nb", "$(touch pwned)", "`touch pwned`; rm -rf canary",
            "..", ".", "x/../../y", "''\"\""]
for task, value in zip(plan["tasks"], expected):
    folder = os.path.realpath(os.path.join(out, "tasks", task["path"]))
    assert folder.startswith(os.path.join(out, "tasks") + os.sep), folder
    assert open(os.path.join(folder, "arg")).read() == value, (folder, value)
PY

# The same values in a shell script, in every quoting context (plain, "...", '...', a
# here-document, $(...)), and in an argv that runs `sh -c`: each arrives as its exact bytes and
# runs nothing.
cat >shell.yaml <<'YAML'
name: shell
shell: true
command: |
  printf '%s|%s|%s|%s' {v} "{v}" '{v}' "$(printf %s {v})" > {result_dir}/arg
  cat <<EOF >> {result_dir}/arg
  |{v}
  EOF
matrix:
  v: ["$(touch pwned)", "`touch pwned`", "'; touch pwned; '", "\"; touch pwned; \"", "EOF\ntouch pwned", "a b  *", "\\"]
YAML
run_bm 0 run shell.yaml --out out-shell
assert_contains out.txt "shell: 7 succeeded, 0 failed"
printf 'name: argv\ncommand: [sh, -c, "printf %%s \\"{v}\\" > {result_dir}/arg"]\nmatrix:\n  v: ["$(touch pwned)", "x`touch pwned`"]\n' >argv.yaml
run_bm 0 run argv.yaml --out out-argv
[ ! -e pwned ] && [ ! -e out-shell/pwned ] || fail "a value in a shell script ran as code"
python3 - out-shell out-argv <<'PY'
import json, os, sys
for out in sys.argv[1:]:
    plan = json.load(open(os.path.join(out, "plan.json")))
    for task in plan["tasks"]:
        folder = os.path.join(out, "tasks", task["path"])
        value = json.load(open(os.path.join(folder, "task.json")))["axes"]["v"]
        got = open(os.path.join(folder, "arg")).read()
        want = value if out == "out-argv" else "|".join([value] * 5) + "\n"
        assert got == want, (out, value, got)
PY

# Values that sanitize alike, nested values whose joins read alike, and a literal that looks like
# another value's hashed folder: every task has a folder of its own, and a second run finds each
# one done (no result overwrote another's).
cat >collide.yaml <<'YAML'
name: collide
command: ["sh", "-c", "printf '%s %s' \"$0\" \"$1\" > \"$BENCHMATRIX_RESULT_DIR/values\"", "{v}", "{w}"]
matrix:
  v: ["a/b", "a_b", "a:b", "A_B"]
  w:
    - {name: x, matrix: {s: [y_z]}}
    - {name: x_y, matrix: {s: [z]}}
    - x_y_z
YAML
run_bm 0 run collide.yaml --out out-collide
assert_contains out.txt "collide: 12 succeeded, 0 failed"
hashed=$(python3 -c "import json; print(sorted(t['path'].split('/')[0] for t in json.load(open('out-collide/plan.json'))['tasks'])[0])")
printf 'name: collide2\ncommand: [true]\nmatrix:\n  v: ["a/b", "%s"]\n' "$hashed" >collide2.yaml
run_bm 0 run collide2.yaml --out out-collide2
[ "$(find out-collide2/tasks -name result.json | wc -l)" = 2 ] || fail "a literal hashed name shared a folder"
run_bm 0 run collide.yaml --out out-collide
assert_contains out.txt "12 tasks already done"
python3 - out-collide <<'PY'
import json, os, sys
out = sys.argv[1]
plan = json.load(open(os.path.join(out, "plan.json")))
paths = [t["path"] for t in plan["tasks"]]
assert len(set(p.lower() for p in paths)) == 12, paths
for task in plan["tasks"]:
    spec = json.load(open(os.path.join(out, "tasks", task["path"], "result.json")))["spec"]
    assert spec["task_id"] == task["task_id"], task
PY

# Hostile task output: malformed, enormous, NaN and Infinity lines are rejected one by one.
cat >emit.py <<'PY'
import os
with open(os.environ["BENCHMATRIX_RESULT_FILE"], "a") as f:
    f.write('{"metric": "ok", "value": 1.5}\n')
    f.write('not json\n{"metric": "n", "value": NaN}\n{"metric": "i", "value": Infinity}\n')
    f.write('{"metric": "big", "value": 1, "pad": "' + "x" * 2_000_000 + '"}\n')
    f.write('\x00\xff garbage\n{"metric": "s", "samples": [1, "two"]}\n')
PY
printf 'name: output\ncommand: ["python3", "%s/emit.py"]\n' "$PWD" >output.yaml
run_bm 0 run output.yaml --out out-output
python3 - out-output/tasks/task/result.json <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
assert result["status"] == "succeeded"
assert result["metrics"]["ok"]["n"] == 1
assert len(result["warnings"]) == 6, result["warnings"]
PY
echo "hostile_input_test: ok ($count configs)"
