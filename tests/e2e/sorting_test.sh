# The bundled example end to end: run, results tree, resume, list, --force.
source "$(dirname "$0")/lib.sh"

sed "s|./build/examples/sortbench|$SORTBENCH|" "$SOURCE_DIR/examples/sorting.yaml" >sorting.yaml
run_bm 0 run sorting.yaml --filter 'n=10000' --out out
assert_contains out.txt "Running 7 tasks on 1 slot (core 1)"
assert_contains out.txt "sorting: 7 succeeded, 0 failed"
assert_contains out.txt "sort_time"

for file in plan.json journal.jsonl tasks/std_sort/10000/random/result.json tasks/std_sort/10000/random/samples.csv \
  tasks/std_sort/10000/random/task.json tasks/radix_sort/10000/sorted/result.json; do
  [ -s "out/$file" ] || fail "missing or empty: out/$file"
done
[ ! -e out/tasks/heap_sort/10000/sorted ] || fail "an excluded task ran"
summary=$(ls out/runs/*/execution_summary.json)
python3 - "$summary" out/tasks/std_sort/10000/random/result.json <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
assert summary["schema"] == 1
assert summary["totals"]["completed"] == 7, summary["totals"]
assert summary["totals"]["selected"] == 7 and summary["totals"]["planned"] == 14
assert summary["cpus"] == [1] and summary["pinned"] is True
assert summary["context"]["tool"] == "benchmatrix" and summary["context"]["cpu_model"] is not None
result = json.load(open(sys.argv[2]))
assert result["status"] == "succeeded"
runs = [r for r in result["runs"] if r["phase"] == "run"]
warm = [r for r in result["runs"] if r["phase"] == "warmup"]
assert len(runs) == 10 and len(warm) == 1, result["runs"]
assert result["metrics"]["sort_time"]["n"] == 10
assert result["metrics"]["throughput"]["direction"] == "higher"
assert result["metrics"]["wall_time"]["median"] > 0
assert result["metrics"]["max_rss"]["median"] > 0
assert result["cpus"] == [1]
PY
lines=$(wc -l <out/tasks/std_sort/10000/random/samples.csv)
# header + 10 runs x (4 own measurements + 2 reported metrics)
assert_eq "$lines" 61 "samples.csv lines"

# Resume: nothing left to do.
run_bm 0 run sorting.yaml --filter 'n=10000' --out out
assert_contains out.txt "7 tasks already done, skipped"
assert_contains out.txt "Running 0 tasks"
assert_eq "$(count_events out task-started)" 7 "task starts after resume"

# list shows the states.
run_bm 0 list sorting.yaml --out out
assert_contains out.txt "14 tasks (7 done, 7 pending)"

# A changed spec makes a task stale; --force re-runs done ones.
sed -i 's/runs: 10/runs: 2/' sorting.yaml
run_bm 0 list sorting.yaml --out out --filter 'algo=std_sort,n=10000'
assert_contains out.txt "2 tasks (2 stale)"
run_bm 0 run sorting.yaml --out out --filter 'algo=std_sort,n=10000,dist=random'
assert_contains out.txt "Running 1 task on 1 slot"
run_bm 0 run sorting.yaml --out out --filter 'algo=std_sort,n=10000,dist=random' --force
assert_contains out.txt "Running 1 task on 1 slot"
echo "sorting_test: ok"
