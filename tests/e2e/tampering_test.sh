# Tasks that tamper with their folder, and files in OUT that are not what they seem: a task that
# removes or replaces its folder, forges result.json (as a file or a directory), replaces task.json
# or a log with a link, reports a metric named like benchmatrix's own, or plants a link where
# another task's folder goes fails alone (or is repaired), and nothing outside OUT is read or
# written; an OUT whose own entries are links is refused before anything runs.
source "$(dirname "$0")/lib.sh"

mkdir canary
echo "untouched" >canary/file
canary="$PWD/canary"
cat >tamper.yaml <<YAML
name: tamper
command: ["sh", "-c", "{case.script}"]
matrix:
  case:
    - {name: removes, script: 'rm -rf "\$BENCHMATRIX_RESULT_DIR"'}
    - {name: dir_result, script: 'mkdir "\$BENCHMATRIX_RESULT_DIR/result.json"'}
    - {name: forges_and_fails, script: 'cp "\$BENCHMATRIX_RESULT_DIR/../ok/result.json" "\$BENCHMATRIX_RESULT_DIR/result.json" 2>/dev/null || echo "{\"task_id\": \"\$BENCHMATRIX_TASK_ID\"}" > "\$BENCHMATRIX_RESULT_DIR/result.json"; exit 1'}
    - {name: forges_ok, script: 'echo "{\"task_id\": \"\$BENCHMATRIX_TASK_ID\", \"status\": \"succeeded\"}" > "\$BENCHMATRIX_RESULT_DIR/result.json"'}
    - {name: task_json, script: 'sleep 0.3; echo "{}" > "\$BENCHMATRIX_RESULT_DIR/task.json"'}
    - {name: log_link, script: 'echo first; ln -sf $canary/file "\$BENCHMATRIX_RESULT_DIR/stdout.log"; echo second', repeat: {warmup: 1, runs: 2}}
    - {name: moves_away, script: 'mv "\$BENCHMATRIX_RESULT_DIR" $canary/moved; echo gone', repeat: {runs: 3}}
    - {name: plants, script: 'rm -rf "\$BENCHMATRIX_RESULT_DIR/../victim"; ln -s $canary "\$BENCHMATRIX_RESULT_DIR/../victim"'}
    - {name: victim, script: 'echo "{\"metric\": \"wall_time\", \"value\": 1000}" >> "\$BENCHMATRIX_RESULT_FILE"; echo ok'}
    - {name: fifo, script: 'rm -f "\$BENCHMATRIX_RESULT_FILE"; mkfifo "\$BENCHMATRIX_RESULT_FILE"'}
    - {name: ok, script: 'echo fine'}
YAML
run_bm 1 run tamper.yaml --out out
assert_contains out.txt "tamper: 4 succeeded, 7 failed"
assert_contains out.txt "case=removes  the task removed its own folder"
assert_contains out.txt "case=dir_result  the task created result.json in its folder"
assert_contains out.txt "case=forges_and_fails  run 1 of 1: exit code 1"
assert_contains out.txt "case=forges_ok  the task created result.json in its folder"
assert_contains out.txt "case=task_json  the task removed or replaced task.json"
assert_contains out.txt "case=log_link  the task replaced stdout.log in its folder with something that is not a file"
assert_contains out.txt "case=moves_away  the task removed its own folder (or moved it away)"
assert_contains out.txt "\"wall_time\" is one of benchmatrix's own measurements"
assert_contains out.txt "metrics.jsonl is not a regular file; its metrics are ignored"
# Nothing outside OUT was written: the canary file is as it was, and the folder moved out of OUT
# got nothing from benchmatrix after the move.
assert_eq "$(cat canary/file)" "untouched" "the file a planted link pointed to"
# (task.json may have moved with it, written before the move.)
assert_eq "$(ls canary/moved | grep -v '^task.json$' || true)" "" "what benchmatrix wrote into a folder moved out of OUT"
[ ! -e canary/result.json ] && [ ! -e canary/task.json ] || fail "benchmatrix wrote through a planted link"
python3 - out <<'PY'
import json, os, sys
out = sys.argv[1]
tasks = os.path.join(out, "tasks")
def load(case, name):
    return json.load(open(os.path.join(tasks, case, name)))
for case in ["removes", "dir_result", "forges_and_fails", "forges_ok", "task_json", "log_link", "moves_away"]:
    folder = os.path.join(tasks, case)
    assert os.path.isdir(folder) and not os.path.islink(folder), case
    assert not os.path.exists(os.path.join(folder, "result.json")), ("a forged result survived", case)
    assert load(case, "failure.json")["status"] == "failed", case
    assert load(case, "task.json")["task_id"] == load(case, "failure.json")["task_id"], ("task.json repaired", case)
# The link planted where the victim's folder goes was replaced by a folder; its own wall time is
# benchmatrix's measurement, not the 1000 s the task reported under that name.
victim = os.path.join(tasks, "victim")
assert os.path.isdir(victim) and not os.path.islink(victim)
result = load("victim", "result.json")
assert result["status"] == "succeeded"
assert result["metrics"]["wall_time"]["max"] < 100, result["metrics"]["wall_time"]
assert any("replaced by a folder" in w for w in result.get("warnings", [])), result.get("warnings")
assert load("fifo", "result.json")["status"] == "succeeded"
PY
# The next run is not aborted by what the tasks left, and retries exactly the failed ones.
run_bm 1 run tamper.yaml --out out
assert_contains out.txt "4 tasks already done"
assert_contains out.txt "tamper: 0 succeeded, 7 failed"
run_bm 0 list tamper.yaml --out out
assert_contains out.txt "4 done, 7 failed"

# A setup step that plants a FIFO where the log goes (a write would block the orchestrator), a
# task that takes away its folder's permissions, one that leaves thousands of files and a
# directory named like benchmatrix's temporary file.
cat >tamper2.yaml <<'YAML'
name: tamper2
command: ["sh", "-c", "{case.script}"]
setup: ["sh", "-c", "{case.setup}"]
matrix:
  case:
    - {name: fifo_log, setup: 'mkfifo "$BENCHMATRIX_RESULT_DIR/stdout.log"', script: 'echo blocked?'}
    - {name: no_rights, setup: 'true', script: 'chmod 000 "$BENCHMATRIX_RESULT_DIR"'}
    - {name: many_files, setup: 'true', script: 'cd "$BENCHMATRIX_RESULT_DIR" && mkdir junk && cd junk && seq 1 3000 | xargs touch'}
    - {name: tmp_dir, setup: 'true', script: 'mkdir "$BENCHMATRIX_RESULT_DIR/result.json.tmp.1" "$BENCHMATRIX_RESULT_DIR/samples.csv.tmp.2"'}
YAML
timeout 60 "$BENCHMATRIX" run tamper2.yaml --out out2 >out.txt 2>err.txt && code=0 || code=$?
assert_eq "$code" 1 "exit code of tamper2 (it must not hang on the FIFO)"
assert_contains out.txt "case=fifo_log  "
assert_contains out.txt "stdout.log in its folder with something that is not a file"
python3 - out2 <<'PY'
import json, os, sys
tasks = os.path.join(sys.argv[1], "tasks")
for case in ["no_rights", "many_files", "tmp_dir"]:
    result = json.load(open(os.path.join(tasks, case, "result.json")))
    assert result["status"] == "succeeded", (case, result.get("reason"))
PY
chmod 755 out2/tasks/no_rights 2>/dev/null || true
run_bm 1 run tamper2.yaml --out out2
assert_contains out.txt "3 tasks already done"

# An OUT whose own entries are links: refused before anything runs, nothing written through them.
printf 'name: plain\ncommand: ["true"]\n' >plain.yaml
for entry in .lock journal.jsonl tasks runs plan.json; do
  rm -rf lout; mkdir lout
  ln -s "$canary/file" "lout/$entry"
  run_bm 2 run plain.yaml --out lout
  assert_contains err.txt "lout/$entry is a symbolic link"
  assert_eq "$(cat canary/file)" "untouched" "the target of OUT/$entry"
done
rm -rf lout; mkdir lout; mkfifo lout/journal.jsonl
run_bm 2 run plain.yaml --out lout
assert_contains err.txt "lout/journal.jsonl is a FIFO"
# A link planted at a task's tool-owned file of a finished task never counts as its result, for
# list, report or the next run.
printf 'name: plain2\ncommand: ["true"]\nmatrix: {i: [1, 2]}\n' >plain2.yaml
run_bm 0 run plain2.yaml --out lout2
cp lout2/tasks/2/result.json "$canary/result.json"
rm lout2/tasks/1/result.json
ln -s "$canary/result.json" lout2/tasks/1/result.json
run_bm 0 list plain2.yaml --out lout2
assert_contains out.txt "2 tasks (1 done, 1 pending)"
run_bm 0 report lout2
assert_contains out.txt "1 of 2 tasks done:"
assert_contains out.txt "lout2/tasks/1/result.json: unreadable, skipped"
run_bm 0 run plain2.yaml --out lout2
assert_contains out.txt "plain2: 1 succeeded"
[ -f lout2/tasks/1/result.json ] && [ ! -L lout2/tasks/1/result.json ] || fail "the planted link was kept"
assert_eq "$(cat canary/file)" "untouched" "the target of a planted result.json"

# A folder removed at once, before benchmatrix wrote the task's own files into it, is made again
# at its path for them: the new folder must never pass for the old one (an inode number reused
# by the file system would). Twenty tasks race their removal against that write.
cat >removes.yaml <<'YAML'
name: removes
command: ["sh", "-c", "rm -rf \"$BENCHMATRIX_RESULT_DIR\""]
matrix: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
YAML
run_bm 1 run removes.yaml --out removed
assert_contains out.txt "removes: 0 succeeded, 20 failed"
echo "tampering_test: ok"
