# The disk filling up while results are written stops the run cleanly: a clear message, exit 1,
# nothing corrupt; after freeing space the same command resumes.
source "$(dirname "$0")/lib.sh"

mkdir small
if ! mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
  echo "disk_full_test: skipped (cannot mount a tmpfs here)"
  exit 77
fi
trap 'umount "$WORK/small" 2>/dev/null; rm -rf "$WORK"' EXIT

values=$(seq -s, 0 99)
cat >full.yaml <<YAML
name: full
command: ["sh", "-c", "head -c 30000 /dev/zero | tr '\\\\0' x; echo"]
matrix: {i: [$values]}
YAML
run_bm 1 run full.yaml --out small/out
assert_contains err.txt "is full"
assert_contains err.txt "every result already written is complete"
python3 - small/out <<'PY'
import json, os, sys
out = sys.argv[1]
done = 0
for root, _, files in os.walk(out):
    for name in files:
        assert ".tmp." not in name, os.path.join(root, name)
        if name == "result.json":
            json.load(open(os.path.join(root, name)))  # whole, never truncated
            done += 1
assert 0 < done < 100, done
print("results before the disk filled:", done)
PY
# The stop is recorded: an execution summary saying why, or the message saying it could not be.
if ! grep -q "the execution summary could not be written either" err.txt; then
  python3 - small/out <<'PY'
import glob, json, sys
summaries = glob.glob(sys.argv[1] + "/runs/*/execution_summary.json")
assert len(summaries) == 1, summaries
summary = json.load(open(summaries[0]))
assert "is full" in summary["stopped"], summary
assert summary["totals"]["completed"] > 0, summary["totals"]
PY
fi
# Make room (tmpfs grows in place) and run the same command: it resumes and completes.
mount -o remount,size=64m small
run_bm 0 run full.yaml --out small/out
assert_contains out.txt "already done, skipped"
assert_contains out.txt "full: "
[ "$(find small/out -name result.json | wc -l)" = 100 ] || fail "not every task has a result after resuming"
echo "disk_full_test: ok"
