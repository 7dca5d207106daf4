# Statistics end to end: a run with a baseline prints comparisons and writes the reports;
# `report` recomputes them from disk; `compare` finds the same code unchanged and exits 3 for a
# deliberately slowed one.
source "$(dirname "$0")/lib.sh"

sed "s|./build/examples/sortbench|$SORTBENCH|" "$SOURCE_DIR/examples/sorting.yaml" >sorting.yaml
run_bm 0 run sorting.yaml --filter 'n=1000000,dist=random' --out out
assert_contains out.txt "Comparisons of sort_time with algo=std_sort"
assert_contains out.txt "algo=radix_sort n=1000000 dist=random"
for file in summary.json samples.csv comparison_table.md; do
  [ -s "out/$file" ] || fail "missing report: out/$file"
done
assert_contains out/comparison_table.md "| task | baseline | ratio | 98.33% CI |"
assert_contains out/comparison_table.md " regressed, "
python3 - out/summary.json out/samples.csv <<'PY'
import csv, json, sys
s = json.load(open(sys.argv[1]))
assert s["schema"] == 1 and s["metric"] == "sort_time", s["metric"]
assert len(s["tasks"]) == 4, len(s["tasks"])
assert len(s["comparisons"]) == 3, s["comparisons"]
for c in s["comparisons"]:
    assert c["baseline"] == "algo=std_sort n=1000000 dist=random", c
    assert 0 <= c["p_adjusted"] <= 1 and c["verdict"] in ("regressed", "improved", "unchanged", "inconclusive"), c
    assert c["mann_whitney"]["exact"] is True  # 10 vs 10 samples without ties
    low, high = c["ratio_ci"]["low"], c["ratio_ci"]["high"]
    assert low <= c["ratio"] <= high and abs(c["ratio_ci_confidence"] - (1 - 0.05 / 3)) < 1e-9, c
    # The verdict follows from the interval shown, never against it.
    if c["verdict"] == "regressed": assert low > 1.02 and c["p_adjusted"] < 0.05, c
    if c["verdict"] == "improved": assert high < 1 / 1.02 and c["p_adjusted"] < 0.05, c
    if c["verdict"] == "unchanged": assert low >= 1 / 1.02 and high <= 1.02, c
# At a million keys, radix sort is about twice as fast as std::sort, stable sort about 1.3x and
# heap sort about 1.7x as slow: real differences of real programs. The large ones are found even
# when other tests load the machine; the 1.3x one is found or, under load, inconclusive, never
# the wrong way.
verdicts = {c["task"].split()[0]: c["verdict"] for c in s["comparisons"]}
assert verdicts["algo=radix_sort"] == "improved" and verdicts["algo=heap_sort"] == "regressed", s["comparisons"]
assert verdicts["algo=stable_sort"] in ("regressed", "inconclusive"), s["comparisons"]
radix = [c for c in s["comparisons"] if c["task"].startswith("algo=radix_sort")][0]
assert radix["summary"].startswith("improved: ") and radix["summary"].endswith("× faster"), radix
counts = s["verdicts"]
assert sum(counts.values()) == 3 and set(counts) >= {"regressed", "improved", "unchanged", "inconclusive", "failed"}, counts
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

# compare: the same code twice is no regression; a slowed variant is (exit 3, named).
run_bm 0 exec -p case=a,b -r 8 --out base -- sh -c 'sleep 0.02'
run_bm 0 exec -p case=a,b -r 8 --out same -- sh -c 'sleep 0.02'
run_bm 0 compare base same --threshold 25%
assert_contains out.txt "Comparing NEW same against BASE base"
assert_contains out.txt "mix the machine's drift"
assert_contains out.txt "Gate passed: 0 regressed"
assert_not_contains out.txt "regressed:"
run_bm 0 exec -p case=a,b -r 8 --out slow -- sh -c 'sleep 0.12'
run_bm 3 compare base slow
assert_contains out.txt "2 regressed, 0 improved"
assert_contains out.txt "case=a "; grep -q "regressed: [2-9]\.[0-9]*× slower" out.txt || fail "the slowdown (2x to 6x: wall time of sleep 0.12 against 0.02, plus the shell's start) not found"
assert_contains out.txt "× slower"
assert_contains out.txt "GATE FAILED"
run_bm 0 compare slow base
assert_contains out.txt "× faster"
assert_contains out.txt "0 regressed, 2 improved"
echo "statistics_test: ok"
