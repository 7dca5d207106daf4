# Verdicts end to end on real processes: `run --gate` of one interleaved matrix exits 3 naming the
# slowed variant and 0 for the same program twice; a config without a baseline cannot gate;
# `compare` misses nothing (missing, failed and new tasks are listed and fail the gate unless
# --allow-missing) and exports JSON, Markdown and JUnit; an unknown --metric writes nothing;
# disturbed runs and the programs each task ran are recorded; `list` says what changed.
source "$(dirname "$0")/lib.sh"

# Two "builds" as values of one axis: the same sorting program, one given twice the work.
cat >gate.yaml <<EOF2
name: gate
command: ["$SORTBENCH", "--algo", "std_sort", "--n", "{build.n}"]
matrix:
  build:
    - {name: base, n: 200000}
    - {name: new, n: 400000}
    - {name: off, n: 1, enabled: false}
analysis: {baseline: {build: base}, metric: sort_time}
EOF2
run_bm 3 run gate.yaml --gate --out gate-out
assert_contains out.txt "repeat.runs is not set: the variants and their baselines run 10 times each"
assert_contains out.txt "GATE FAILED: 1 regressed, 0 improved, 0 unchanged, 0 inconclusive, 0 failed"
grep -q "build=new .*regressed: [12]\.[0-9]*× slower" out.txt || { cat out.txt; fail "the 2x slower build is not named"; }
assert_not_contains out.txt "build=off"
python3 - gate-out <<'PY'
import glob, json, sys
rounds = None
for path in glob.glob(sys.argv[1] + "/tasks/*/result.json"):
    r = json.load(open(path))
    assert len([x for x in r["runs"] if x["phase"] == "run"]) == 10, path
    assert "load_average" in r["noise"] and "others_cpu_seconds" in r["noise"], r["noise"]
    assert r["executables"][0]["path"].endswith("sortbench") and len(r["executables"][0]["hash"]) == 16, r
    rounds = r["interleaving"]["rounds"]
# Interleaved by default with a baseline: both variants in every round.
assert len(rounds) == 10 and all(len(x) == 2 for x in rounds), rounds
context = json.load(open(sys.argv[1] + "/plan.json"))["context"]
assert context["cpu_governor"] and context["cpu_turbo"] in ("on", "off", "unknown"), context
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["verdicts"]["regressed"] == 1 and s["verdicts_line"].startswith("1 regressed"), s["verdicts"]
PY
assert_contains gate-out/comparison_table.md "**1 regressed, 0 improved, 0 unchanged, 0 inconclusive, 0 failed**"

# The same program twice (A/A): the gate passes.
sed 's/n: 400000/n: 200000/; s/metric: sort_time}/metric: sort_time, threshold: 5%}/' gate.yaml >aa.yaml
run_bm 0 run aa.yaml --gate --out aa-out
assert_contains out.txt "Gate passed: 0 regressed"

# Gating needs a baseline: said before anything runs.
printf 'name: nob\ncommand: ["true"]\nmatrix: {a: [x, y]}\n' >nob.yaml
run_bm 2 run nob.yaml --gate --out nob-out
assert_contains err.txt "--gate: the config compares nothing; set analysis.baseline"
[ ! -e nob-out ] || fail "a refused gate wrote its results folder"
printf 'name: nob\ncommand: ["true"]\nmatrix: {a: [x, y]}\nanalysis: {gate: true}\n' >nob2.yaml
run_bm 2 run nob2.yaml
assert_contains err.txt "analysis.gate: the gate fails on regressions against a baseline"

# An explicit count too small for any verdict is honoured, and said.
printf 'name: few\ncommand: ["true"]\nmatrix: {a: [x, y]}\nrepeat: {runs: 2}\nanalysis: {baseline: {a: x}}\n' >few.yaml
run_bm 0 run few.yaml --out few-out
assert_contains out.txt "2 runs per task can never show a significant difference"
assert_contains out.txt "use at least 4 runs for a verdict"

# An eval run once: its value and difference, with the standard errors the task reported; no p-value.
cat >emit_eval.py <<'EOF2'
import json, os, sys
with open(os.environ["BENCHMATRIX_RESULT_FILE"], "a") as f:
    f.write(json.dumps({"metric": "accuracy", "value": float(sys.argv[1]), "stderr": 0.01, "direction": "higher"}) + "\n")
EOF2
cat >eval.yaml <<EOF2
name: eval
command: ["python3", "$PWD/emit_eval.py", "{model.acc}"]
matrix:
  model: [{name: base, acc: 0.812}, {name: tuned, acc: 0.845}]
repeat: {runs: 1}
analysis: {baseline: {model: base}}
EOF2
run_bm 0 run eval.yaml --out eval-out
assert_contains out.txt "run once: 0.845 against 0.812 (+0.033 ± 0.01414); no test from one run"

# compare misses nothing: BASE has a, b, c; NEW lacks b, c crashes, d is new.
cat >ab.yaml <<'EOF2'
name: ab
command: ["sh", "-c", "if [ {t} = c ] && [ -e crash ]; then exit 1; fi; sleep 0.05"]
matrix: {t: [a, b, c]}
repeat: {runs: 6}
EOF2
run_bm 0 run ab.yaml --out base
sed 's/t: \[a, b, c\]/t: [a, c, d]/' ab.yaml >ab2.yaml
touch crash
run_bm 1 run ab2.yaml --out new --force
rm crash
run_bm 3 compare base new --threshold 50% --export-json c.json --export-markdown c.md --export-junit c.xml
assert_contains out.txt "Comparing NEW new against BASE base"
assert_contains out.txt "0 regressed, 0 improved, 1 unchanged, 0 inconclusive, 1 failed, 1 missing, 1 new"
assert_contains out.txt "failed: run 1 of 6: exit code 1"
assert_contains out.txt "missing: not in NEW's plan"
assert_contains out.txt "GATE FAILED"
assert_contains c.md "| t=b |"
grep -q '<testsuite name=".*" tests="4" failures="2"' c.xml || { cat c.xml; fail "JUnit counts"; }
python3 - c.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["verdicts"]["failed"] == 1 and c["verdicts"]["missing"] == 1 and c["verdicts"]["new"] == 1, c["verdicts"]
assert {x["task"]: x["verdict"] for x in c["comparisons"]} == {"t=a": "unchanged", "t=b": "missing", "t=c": "failed", "t=d": "new"}
PY
run_bm 0 compare base new --threshold 50% --allow-missing
assert_contains out.txt "Gate passed"
# Byte-identical programs in BASE and NEW are said.
assert_contains out.txt "BASE and NEW ran byte-identical executables"

# An unknown metric: exit 2, nothing written (report and compare alike).
cp gate-out/summary.json before.json
run_bm 2 report gate-out --metric nope
assert_contains err.txt "--metric: no task has a metric named 'nope'; the results have: "
assert_contains err.txt "sort_time"
cmp -s before.json gate-out/summary.json || fail "a refused report rewrote summary.json"
run_bm 2 compare base new --metric nope
assert_contains err.txt "no task has a metric named 'nope'"

# --filter: values of one axis are alternatives.
run_bm 0 list ab.yaml --out base --filter 't=a,b'
assert_contains out.txt "2 tasks (2 done)"

# list: another terminal's variables do not count; a changed variable is named; so is a rebuilt program.
TERM=other-terminal SSH_TTY=/dev/pts/9 run_bm 0 list ab.yaml --out base
assert_not_contains out.txt "environment differs"
MY_SETTING=1 run_bm 0 list ab.yaml --out base
assert_contains out.txt "(environment differs: MY_SETTING (new))"
cp "$SORTBENCH" ./mysort
printf 'name: rebuilt\ncommand: ["./mysort", "--algo", "std_sort", "--n", "1000"]\nmatrix: {a: [x]}\n' >rebuilt.yaml
run_bm 0 run rebuilt.yaml --out rebuilt-out
run_bm 0 list rebuilt.yaml --out rebuilt-out
assert_not_contains out.txt "executable changed"
printf '\0' >>mysort
run_bm 0 list rebuilt.yaml --out rebuilt-out
assert_contains out.txt "(executable changed since: ./mysort)"
echo "verdicts_test: ok"
