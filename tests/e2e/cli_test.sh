# topology, --parallel/--jobs on this machine, pinning as the task sees it, exec, list, dry-run.
source "$(dirname "$0")/lib.sh"

run_bm 0 topology
assert_contains out.txt "Topology from hwloc"
assert_contains out.txt "Usable for benchmarks"
ncores=$(grep -c '^  core ' out.txt)

cat >pin.yaml <<'YAML'
name: pin
command: ["sh", "-c", "grep Cpus_allowed_list /proc/self/status; echo slot=$BENCHMATRIX_SLOT run=$BENCHMATRIX_RUN"]
matrix: {i: [a, b, c]}
repeat: {runs: 2}
YAML
run_bm 0 run pin.yaml --out seq
assert_contains out.txt "Running 3 tasks on 1 slot (core 1)"
for t in a b c; do
  assert_contains "seq/tasks/$t/stdout.log" $'Cpus_allowed_list:\t1'
  assert_contains "seq/tasks/$t/stdout.log" "slot=0 run=2"
done

run_bm 0 run pin.yaml --out par --parallel
if [ "$ncores" -eq 2 ]; then
  assert_contains out.txt "Running 3 tasks on 1 slot (core 1)"
fi
run_bm 0 run pin.yaml --out all --cores 0,1
assert_contains out.txt "Running 3 tasks on 2 slots (cores 0-1)"
run_bm 0 run pin.yaml --out over --jobs 3 --oversubscribe
assert_contains out.txt "note: oversubscribed"
assert_contains out.txt "unpinned"

run_bm 0 exec -p n=1000,20000 -p algo=std_sort,heap_sort -r 2 --out ex -- "$SORTBENCH" --algo '{algo}' --n '{n}'
assert_contains out.txt "Running 4 tasks"
assert_contains out.txt "4 succeeded, 0 failed"
[ -s ex/tasks/1000/std_sort/result.json ] || fail "exec wrote no result"
run_bm 0 exec --shell -r 1 --out exsh -- echo "hello world" '>' /dev/null
assert_contains out.txt "1 succeeded"
run_bm 2 exec -p bad -- true

run_bm 0 list "$SOURCE_DIR/examples/seed004_sparse_attention.yaml" --out none
assert_contains out.txt "12 tasks (12 pending)"
assert_contains out.txt "model=meta-llama/Llama-3.1-8B-Instruct attention=dense benchmark=longbench subset=narrativeqa"
run_bm 0 list "$SOURCE_DIR/examples/seed004_sparse_attention_advanced.yaml" --out none
assert_contains out.txt "32 tasks (32 pending)"
run_bm 0 list "$SOURCE_DIR/examples/seed001_inference_engines.yaml" --out none --json
assert_eq "$(wc -l <out.txt)" 10 "seed 001 tasks"
run_bm 0 list "$SOURCE_DIR/examples/seed002_autotune.yaml" --out none
assert_contains out.txt "12 tasks (12 pending)"
[ ! -e none ] || fail "list created the results folder"

run_bm 0 run pin.yaml --out dry --dry-run
assert_contains out.txt "Dry run: 3 tasks would run"
[ ! -e dry ] || fail "--dry-run wrote the results folder"

# Two runs on one OUT: the second is refused while the first holds the lock.
printf 'name: long\ncommand: [sleep, "5"]\n' >long.yaml
"$BENCHMATRIX" run long.yaml --out locked >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -e locked/journal.jsonl ] && break; sleep 0.05; done
run_bm 2 run long.yaml --out locked
assert_contains err.txt "is in use by another benchmatrix run (pid $pid"
kill -INT $pid; wait $pid || true
run_bm 0 --version
assert_contains out.txt "benchmatrix 0.1.0"
echo "cli_test: ok"
