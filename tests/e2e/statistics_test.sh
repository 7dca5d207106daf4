# Statistics end to end: a run with a baseline prints comparisons and writes the reports;
# `report` recomputes them from disk; `compare` says "no difference" for the same code and exits
# 3 for a deliberately slowed one.
source "$(dirname "$0")/lib.sh"

sed "s|./build/examples/sortbench|$SORTBENCH|" "$SOURCE_DIR/examples/sorting.yaml" >sorting.yaml
run_bm 0 run sorting.yaml --filter 'n=10000,dist=random' --out out
assert_contains out.txt "Comparisons of sort_time with algo=std_sort"
assert_contains out.txt "algo=radix_sort n=10000 dist=random"
for file in summary.json samples.csv comparison_table.md; do
  [ -s "out/$file" ] || fail "missing report: out/$file"
done
assert_contains out/comparison_table.md "| task | baseline | ratio | 95% CI |"
python3 - out/summary.json out/samples.csv <<'PY'
import csv, json, sys
s = json.load(open(sys.argv[1]))
assert s["schema"] == 1 and s["metric"] == "sort_time", s["metric"]
assert len(s["tasks"]) == 4, len(s["tasks"])
assert len(s["comparisons"]) == 3, s["comparisons"]
for c in s["comparisons"]:
    assert c["baseline"] == "algo=std_sort n=10000 dist=random", c
    assert 0 <= c["p_adjusted"] <= 1 and c["verdict"] in ("faster", "slower", "no difference"), c
    assert c["mann_whitney"]["exact"] is True  # 10 vs 10 samples without ties
stats = s["tasks"][0]["metrics"]["sort_time"]["statistics"]
assert stats["n"] == 10 and stats["p25"] <= stats["median"] <= stats["p75"], stats
rows = list(csv.DictReader(open(sys.argv[2])))
assert {r["metric"] for r in rows} >= {"sort_time", "throughput", "wall_time", "max_rss"}
assert len([r for r in rows if r["metric"] == "sort_time"]) == 40
assert all(float(r["started_unix"]) > 1.5e9 and r["slot"] == "0" and r["cpus"] == "1" for r in rows), rows[0]
PY

# report: recomputed from disk, with settings changed on the command line.
rm out/summary.json
run_bm 0 report out --baseline algo=heap_sort --correction bonferroni
assert_contains out.txt "with algo=heap_sort (bonferroni correction"
[ -s out/summary.json ] || fail "report did not write summary.json"
run_bm 2 report does-not-exist
assert_contains err.txt "not a benchmatrix results folder"

# compare: the same code twice is no regression; a slowed variant is.
run_bm 0 exec -p case=a,b -r 8 --out base -- sh -c 'sleep 0.02'
run_bm 0 exec -p case=a,b -r 8 --out same -- sh -c 'sleep 0.02'
run_bm 0 compare base same --threshold 25%
assert_contains out.txt "No regression in 2 tasks"
assert_not_contains out.txt "slower"
run_bm 0 exec -p case=a,b -r 8 --out slow -- sh -c 'sleep 0.12'
run_bm 3 compare base slow
assert_contains out.txt "slower"
assert_contains out.txt "REGRESSION: 2 of 2 tasks"
run_bm 0 compare slow base
assert_contains out.txt "faster"
echo "statistics_test: ok"
