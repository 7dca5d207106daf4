# Google Benchmark programs as a source: discovery with --benchmark_list_tests, one benchmark per
# process through an escaped filter, results from --benchmark_out (never stdout), names split
# into axes, a build lacking benchmarks, errors failing alone, malformed output, exec --gbench.
source "$(dirname "$0")/lib.sh"
: "${GBENCH_TRICKY:?set by CTest}"
: "${GBENCH_TRICKY_LACKING:?set by CTest}"

cat >gbench.yaml <<YAML
name: gbench
source: {gbench: "{build.binary}", args: ["--benchmark_min_time=0.001", "--benchmark_repetitions=2"]}
matrix:
  build:
    - {name: full, binary: $GBENCH_TRICKY}
    - {name: lacking, binary: $GBENCH_TRICKY_LACKING}
repeat: {runs: 2}
YAML
run_bm 1 run gbench.yaml --out out
# 8 benchmarks in the full build, 6 in the lacking one (no weird*): 14 tasks, the two `broken` fail.
assert_contains out.txt "gbench: 12 succeeded, 2 failed"
assert_contains out.txt "build=full benchmark=broken  run 1 of 2: benchmark error: broken: no device found"
assert_contains out.txt "build=full benchmark=weird(a*b)[0]+\$  real_time"
assert_not_contains out.txt "build=lacking benchmark=weird"
# A name with regex characters ran alone: its file holds only its own rows; its prints stayed in stdout.log.
dir='out/tasks/full/weird_a_b__0___'
[ -d "$dir" ] || { ls out/tasks/full >&2; fail "no folder for weird(a*b)[0]+\$"; }
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
result = json.load(open(d + "/result.json"))
assert result["spec"]["command"][1] == "--benchmark_filter=^weird\\(a\\*b\\)\\[0]\\+\\$$", result["spec"]["command"]
names = {row["run_name"] for row in json.load(open(d + "/gbench.json"))["benchmarks"]}
assert names == {"weird(a*b)[0]+$"}, names
runs = [r for r in result["runs"] if r["phase"] == "run"]
assert len(runs) == 2, runs
# two repetitions per process: two samples each, nested in their process
samples = [line for line in open(d + "/samples.csv") if line.startswith("real_time") or ",real_time," in line]
assert len(samples) == 4, samples
assert "hits" in result["metrics"], result["metrics"].keys()
assert "ratio" not in result["metrics"]                       # NaN: skipped with a warning
assert any("ratio" in w for w in result["warnings"]), result["warnings"]
assert result["benchmark_context"]["num_cpus"] >= 1
PY
assert_contains "$dir/stdout.log" "this print must not be read"

# Names split into axes: the family and nested axes, only names that exist.
cat >split.yaml <<YAML
name: split
source: {gbench: "$GBENCH_TRICKY", args: ["--benchmark_min_time=0.001"], split: [size]}
YAML
run_bm 0 list split.yaml --json
python3 - <<'PY'
import json
tasks = [json.loads(line) for line in open("out.txt")]
spins = sorted((t["axes"]["size"], t["axes"]["threads"]) for t in tasks if t["axes"]["benchmark"] == "spin")
assert spins == [("64", "1"), ("64", "2"), ("8", "1"), ("8", "2")], spins
assert len(tasks) == 8, [t["axes"] for t in tasks]
PY

# Arguments benchmatrix owns are refused before anything runs.
cat >owned.yaml <<YAML
name: owned
source: {gbench: "$GBENCH_TRICKY", args: ["--benchmark_filter=spin"]}
YAML
run_bm 2 run owned.yaml --out owned
assert_contains err.txt "owned.yaml:2:"
assert_contains err.txt "--benchmark_filter is set by benchmatrix"
[ ! -e owned ] || fail "a refused config wrote its results folder"

# A program that is not a Google Benchmark program, or writes garbage: a clear failure per task.
cat >fake_bench.sh <<'SH'
#!/bin/sh
case "$1" in
  --benchmark_list_tests=true) echo BM_a; echo BM_b; echo BM_c; exit 0 ;;
esac
for arg; do case "$arg" in --benchmark_out=*) out=${arg#--benchmark_out=} ;; esac; done
case "$1" in
  *BM_a*) printf '{"benchmarks": [{"name": 5' >"$out" ;;
  *BM_b*) echo '{"benchmarks": [{"name": "BM_b", "real_time": 1, "time_unit": "ns"}]}' ;;
  *BM_c*) echo '{"context": {}, "benchmarks": [{"name": "BM_c", "run_type": "iteration", "skipped": true,
                "skip_message": "needs AVX-512", "real_time": 0, "time_unit": "ns"}]}' >"$out" ;;
esac
SH
chmod +x fake_bench.sh
cat >fake.yaml <<'YAML'
name: fake
source: {gbench: ./fake_bench.sh}
YAML
run_bm 1 run fake.yaml --out fake
assert_contains out.txt "benchmark=BM_a  run 1 of 1: benchmark error: gbench.json (run 1) is not valid JSON"
assert_contains out.txt "benchmark=BM_b  run 1 of 1: the benchmark wrote no results (gbench.json is missing)"
# A benchmark that skips itself is its own status: done (not retried), no samples, listed as such.
assert_contains out.txt "skip  benchmark=BM_c  BM_c: needs AVX-512"
assert_contains out.txt "1 skipped by the benchmark"
python3 -c 'import json; r = json.load(open("fake/tasks/BM_c/result.json")); assert r["status"] == "skipped", r["status"]'
run_bm 1 run fake.yaml --out fake
assert_contains out.txt "1 skipped (already done)"

# A program that cannot list its benchmarks: exit 2 at the source's line.
cat >nolist.yaml <<'YAML'
name: nolist
source: {gbench: /bin/false}
YAML
run_bm 2 run nolist.yaml --out nolist
assert_contains err.txt "nolist.yaml:2:18"
assert_contains err.txt "failed (exit code 1)"

# exec: the same source on the command line, its extra arguments after --.
run_bm 1 exec --gbench "$GBENCH_TRICKY" -r 2 --out exec_out -- --benchmark_min_time=0.001 --benchmark_repetitions=1
assert_contains out.txt "benchmark=templated<int>"
