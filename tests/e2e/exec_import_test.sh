# exec at hyperfine's level (several commands compared, -L/-P, escaped commas, --prepare, the
# summary and exports), `import` of hyperfine and pytest-benchmark files, and metrics_file (a
# plain JSON object and lm-evaluation-harness results).
source "$(dirname "$0")/lib.sh"
DATA="$SOURCE_DIR/tests/data"

# Two commands compared directly: the summary says which ran faster, by how much, and the verdict.
run_bm 0 exec 'sleep 0.01' 'sleep 0.05' -r 6 --out two --export-hyperfine two.json --export-markdown two.md
assert_contains out.txt "Benchmark 1: sleep 0.01"
assert_contains out.txt "  Time (mean ± σ):"
assert_contains out.txt "  Range (min … max):"
assert_contains out.txt "6 runs"
grep -qE "^  'sleep 0.01' ran [0-9.]+ ± [0-9.]+ times faster than 'sleep 0.05' \(the verdict on 'sleep 0.05': regressed" out.txt ||
  { cat out.txt >&2; fail "no hyperfine-style summary line"; }
python3 - <<'PY'
import json
d = json.load(open("two.json"))
assert [r["command"] for r in d["results"]] == ["sleep 0.01", "sleep 0.05"], d
r = d["results"][1]
assert len(r["times"]) == 6 and r["exit_codes"] == [0] * 6 and 0.04 < r["median"] < 0.5, r
for key in ("mean", "stddev", "median", "user", "system", "min", "max", "parameters"):
    assert key in r, key
PY
assert_contains two.md "sleep 0.05"

# Two commands that report the same value: "alike", never a speed-up. (The verdicts' behaviour on
# noisy timings is validated by bench/verdict_rounds.sh and the statistics tests, not by one run here.)
same='echo "{{\"score\": 1}}" >"$BENCHMATRIX_RESULT_DIR/metrics.json"'
run_bm 0 exec --command-name a --command-name b "$same" "$same" -r 6 --out aa
assert_contains out.txt "'b' and 'a' are alike on score: within ±2% (unchanged)"

# -L with a comma inside a value, -P scans, --prepare before every run, a single shell command.
run_bm 0 exec -L msg 'a\,b,c' -r 1 --out list 'printf %s {msg} >"$BENCHMATRIX_RESULT_DIR/msg.txt"'
assert_eq "$(cat list/tasks/a_b/msg.txt)" "a,b" "an escaped comma stays in the value"
assert_eq "$(cat list/tasks/c/msg.txt)" "c" "the second value"
run_bm 0 exec -P n 1 3 -r 1 --out scan 'test {n} -le 3'
assert_contains out.txt "3 succeeded, 0 failed"
run_bm 0 exec -r 2 -w 1 --prepare 'echo prepare >>"$BENCHMATRIX_RESULT_DIR/order.txt"' --out prep \
  'echo run >>"$BENCHMATRIX_RESULT_DIR/order.txt"'
assert_eq "$(tr '\n' ' ' <prep/tasks/task/order.txt)" \
  "prepare run prepare run prepare run " "prepare before each warm-up and run"
run_bm 2 exec -P n 3 1 'true' --out bad
assert_contains err.txt "-P n 3 1: expected MIN <= MAX"
# With --, the words are one argv, as before.
run_bm 0 exec -r 1 --out argv -- "$SORTBENCH" --algo std_sort --n 100

# import: hyperfine's runs are processes (a failed run fails its task), pytest-benchmark's rounds samples.
run_bm 0 import "$DATA/hyperfine_export.json" --out hf
assert_contains out.txt "Imported 2 hyperfine results"
assert_contains out.txt "(1 failed)"
run_bm 0 report hf
assert_contains out.txt "sleep 0.01     4"
run_bm 0 import "$DATA/pytest_benchmark.json" --out pb
run_bm 0 report pb --export-hyperfine pb_hyperfine.json
assert_contains out.txt "tests/test_sort.py::test_sort[1000]  1 (5 samples)"
printf '{"not": "a benchmark file"}' >junk.json
run_bm 2 import junk.json --out junk
assert_contains err.txt "junk.json: not hyperfine's --export-json nor pytest-benchmark's"
[ ! -e junk ] || fail "a refused import wrote its results folder"

# metrics_file: a plain object (nested, strings left alone) and lm-evaluation-harness results.
cp "$DATA/lm_eval_results.json" lm.json
cat >files.yaml <<'YAML'
name: files
command: [sh, -c, "{case.script}"]
matrix:
  case:
    - {name: plain, script: "echo '{\"accuracy\": 0.8, \"model\": \"m\", \"latency\": {\"p50\": 0.2}}' >\"$BENCHMATRIX_RESULT_DIR/metrics.json\""}
    - {name: lm, script: "cp lm.json \"$BENCHMATRIX_RESULT_DIR/metrics.json\""}
    - {name: stale, script: "test -e \"$BENCHMATRIX_RESULT_DIR/metrics.json\" || echo '{\"x\": 1}' >\"$BENCHMATRIX_RESULT_DIR/metrics.json\""}
repeat: {runs: 2}
metrics_file: {path: metrics.json, higher_is_better: [accuracy]}
YAML
run_bm 0 run files.yaml --out files
python3 - <<'PY'
import json
plain = json.load(open("files/tasks/plain/result.json"))["metrics"]
assert plain["accuracy"]["direction"] == "higher" and plain["accuracy"]["n"] == 2, plain["accuracy"]
assert "latency.p50" in plain and "model" not in plain, plain.keys()
lm = json.load(open("files/tasks/lm/result.json"))
assert abs(lm["metrics"]["hellaswag.acc"]["stderr"] - 0.00494) < 1e-12, lm["metrics"]["hellaswag.acc"]
assert lm["metrics"]["gsm8k.exact_match.strict-match"]["direction"] == "higher"
stale = json.load(open("files/tasks/stale/result.json"))
assert stale["metrics"]["x"]["n"] == 1, stale["metrics"]["x"]          # the second run did not rewrite it
assert any("was not rewritten" in w for w in stale["warnings"]), stale["warnings"]
PY

# Without metrics_file, a metrics.json a run writes is read; `metrics_file: none` reads nothing.
cat >implicit.yaml <<'YAML'
name: implicit
command: [sh, -c, "echo '{{\"accuracy\": 0.7}}' >\"$BENCHMATRIX_RESULT_DIR/metrics.json\""]
YAML
run_bm 0 run implicit.yaml --out implicit
python3 -c 'import json; m = json.load(open("implicit/tasks/task/result.json"))["metrics"]; assert m["accuracy"]["median"] == 0.7, m'
printf 'metrics_file: none\n' >>implicit.yaml
run_bm 0 run implicit.yaml --out implicit_off
python3 -c 'import json; m = json.load(open("implicit_off/tasks/task/result.json"))["metrics"]; assert "accuracy" not in m, m'
