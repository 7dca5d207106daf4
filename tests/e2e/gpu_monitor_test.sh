# The monitor, the GPU pool's health and the gates, on real processes with the fake NVML
# (tests/fake_nvml): what each task used over time, GPUs that leave the pool mid-run, gpu_check,
# thermal_limit and cool_down.
source "$(dirname "$0")/lib.sh"
: "${FAKE_NVML:?set by CTest}"
export BENCHMATRIX_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$WORK/gpus.txt"
two_gpus() {
  cat >gpus.txt <<TXT
gpu 0 GPU-11111111 00000000:19:00.0 143771 - NVIDIA H200
gpu 1 GPU-22222222 00000000:3B:00.0 143771 - NVIDIA H200
util 0 87
util 1 12
power 0 350000
clock 0 1755
TXT
}

# Monitoring: every task's monitor.csv and summary; GPU memory of the task's own processes
# (listed by NVML in the older 24-byte record layout: the stride is probed), energy per run.
two_gpus
echo "processes $WORK/procs v2" >>gpus.txt
mkdir procs
cat >mon.yaml <<YAML
name: mon
command: ["sh", "-c", "echo \"\$CUDA_VISIBLE_DEVICES 700\" >$WORK/procs/\$\$; echo \"\$CUDA_VISIBLE_DEVICES 1\" >$WORK/procs/1; i=0; while [ \$i -lt 40000 ]; do i=\$((i+1)); done; rm -f $WORK/procs/\$\$"]
matrix: {m: [a, b]}
task: {gpus: 1}
repeat: {runs: 2}
resources: {gpus: [0, 1]}
monitor: {interval: 20ms}
YAML
run_bm 0 run mon.yaml --out mon --progress never
python3 - <<'PY'
import csv, json
for task, gpu in (("a", 0), ("b", 1)):
    rows = list(csv.DictReader(open(f"mon/tasks/{task}/monitor.csv")))
    assert len(rows) >= 3, (task, rows)
    assert f"gpu{gpu}_utilization" in rows[0] and "cpu_percent" in rows[0] and "memory_mib" in rows[0], rows[0]
    monitor = json.load(open(f"mon/tasks/{task}/result.json"))["monitor"]
    assert monitor["interval_ms"] == 20 and monitor["samples"] >= 3, monitor
    series = monitor["series"]
    assert series[f"gpu{gpu}_utilization"]["mean"] == (87 if gpu == 0 else 12), series
    assert series["gpu_task_memory_mib"]["max"] == 700, series  # its own process, not pid 1's
    assert series["cpu_percent"]["max"] > 5, series
    samples = list(csv.DictReader(open(f"mon/tasks/{task}/samples.csv")))
    energy = [float(s["value"]) for s in samples if s["metric"] == "gpu_energy"]
    assert len(energy) == 2 and all(e > 0 for e in energy), energy
    assert [s["unit"] for s in samples if s["metric"] == "gpu_energy"] == ["J", "J"]
# energy follows power: GPU 0 draws 350 W, GPU 1 the default 70 W.
PY
ls mon/runs/*/system_metrics.csv >/dev/null || fail "no system_metrics.csv"
python3 -c "
import csv, glob; rows = list(csv.DictReader(open(glob.glob('mon/runs/*/system_metrics.csv')[0])))
assert rows and 'gpu1_power_w' in rows[0] and float(rows[-1]['memory_used_mib']) > 0, rows[:2]"

# The newer 32-byte layout is read as well; monitor: off writes nothing.
sed -i 's/ v2$/ v3/' gpus.txt
run_bm 0 run mon.yaml --out mon3 --progress never
python3 -c "
import json; s = json.load(open('mon3/tasks/a/result.json'))['monitor']['series']
assert s['gpu_task_memory_mib']['max'] == 700, s"
sed 's/monitor: {interval: 20ms}/monitor: off/' mon.yaml >off.yaml
run_bm 0 run off.yaml --out off --progress never
[ ! -e off/tasks/a/monitor.csv ] || fail "monitor: off wrote monitor.csv"
python3 -c "import json; assert 'monitor' not in json.load(open('off/tasks/a/result.json'))"
sed 's/monitor: {interval: 20ms}/monitor: {interval: 1ms}/' mon.yaml >bad.yaml
run_bm 2 run bad.yaml --out never
assert_contains err.txt "monitor.interval"
[ ! -e never ] || fail "a bad monitor left a results folder"

# A CPU task (no GPU, no cgroup needed) is monitored from its process group.
cat >cpu.yaml <<'YAML'
name: cpu
command: ["sh", "-c", "i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done"]
matrix: {m: [x]}
monitor: {interval: 20ms}
YAML
run_bm 0 run cpu.yaml --out cpu --progress never --isolation none
python3 -c "
import json; s = json.load(open('cpu/tasks/x/result.json'))['monitor']['series']
assert s['cpu_percent']['max'] > 20 and s['memory_mib']['max'] > 0, s"

# A GPU lost mid-run leaves the pool; the task that failed on it runs again on the other GPU,
# and every task succeeds.
two_gpus
echo "lost_file 1 $WORK/lost1" >>gpus.txt
cat >lost.yaml <<YAML
name: lost
command: ["sh", "-c", "if [ \"\$CUDA_VISIBLE_DEVICES\" = 1 ]; then touch $WORK/lost1; sleep 1; exit 1; fi; sleep 0.2"]
matrix: {m: [a, b, c, d]}
task: {gpus: 1}
resources: {gpus: [0, 1]}
monitor: {interval: 20ms}
YAML
run_bm 0 run lost.yaml --out lost --progress never
assert_contains out.txt "GPU 1 leaves the pool: lost (NVML: GPU is lost); its waiting tasks go to the other GPUs"
assert_contains out.txt "lost: 4 succeeded, 0 failed"
python3 -c "
import json, glob
for f in glob.glob('lost/tasks/*/result.json'):
    assert json.load(open(f))['gpus'] == [0], f"
grep -q '"gpu-removed"' lost/journal.jsonl 2>/dev/null || grep -rq '"gpu-removed"' lost/ || fail "the removal is not journaled"

# Xid errors: one that means the GPU is failing takes it out of the pool; one a program caused
# (31, an illegal memory access) is the task's business. Uncorrectable ECC errors that appear
# during the run do the same, and the GPUs' health is watched with monitor: off too.
two_gpus
cat >>gpus.txt <<TXT
xid 0 31 $WORK/xid0
xid 1 79 $WORK/xid1
TXT
cat >xid.yaml <<YAML
name: xid
command: ["sh", "-c", "touch $WORK/xid\$CUDA_VISIBLE_DEVICES; sleep 0.5; echo \$CUDA_VISIBLE_DEVICES"]
matrix: {m: [a, b, c, d, e]}
task: {gpus: 1}
resources: {gpus: [0, 1]}
monitor: {interval: 20ms}
YAML
run_bm 0 run xid.yaml --out xid --progress never
assert_contains out.txt "GPU 1 leaves the pool: Xid 79: the GPU has fallen off the bus"
assert_not_contains out.txt "GPU 0 leaves"
assert_eq "$(cat xid/tasks/e/stdout.log)" "0" "the GPU of the last task"
two_gpus
echo "ecc_file 1 $WORK/ecc1" >>gpus.txt
cat >ecc.yaml <<YAML
name: ecc
command: ["sh", "-c", "[ \$CUDA_VISIBLE_DEVICES = 0 ] || echo 2 >$WORK/ecc1; sleep 1.2; echo \$CUDA_VISIBLE_DEVICES"]
matrix: {m: [a, b, c, d, e]}
task: {gpus: 1}
resources: {gpus: [0, 1]}
monitor: off
YAML
run_bm 0 run ecc.yaml --out ecc --progress never
assert_contains out.txt "GPU 1 leaves the pool: 2 uncorrectable ECC errors during the run"

# With no GPU left the run stops cleanly, says why, and exits 1.
rm -f lost1
two_gpus
printf 'lost_file 0 %s\nlost_file 1 %s\n' "$WORK/lost1" "$WORK/lost1" >>gpus.txt
run_bm 1 run lost.yaml --out gone --progress never
assert_contains out.txt "Stopped: no usable GPU left"
python3 -c "
import glob, json; s = json.load(open(glob.glob('gone/runs/*/execution_summary.json')[0]))
assert s['totals']['not_started'] >= 1 and 'no usable GPU left' in s['stopped'], s"

# A GPU on which tasks fail that then succeed on another GPU leaves the pool; a task that
# fails everywhere is the task's fault, not the GPUs'.
rm -f lost1
two_gpus
cat >blame.yaml <<'YAML'
name: blame
command: ["sh", "-c", "case {m} in z) exit 2;; a) sleep 1;; esac; [ \"$CUDA_VISIBLE_DEVICES\" != 1 ]"]
matrix: {m: [a, b, c, d, e, z]}
task: {gpus: 1, retries: 1}
resources: {gpus: [0, 1]}
YAML
run_bm 1 run blame.yaml --out blame --progress never
assert_contains out.txt "GPU 1 leaves the pool: tasks"
assert_contains out.txt "failed on it and then succeeded on other GPUs"
assert_contains out.txt "blame: 5 succeeded, 1 failed"
assert_eq "$(grep -c 'leaves the pool' out.txt)" 1 "GPUs removed"

# gpu_check runs once per GPU with that GPU alone visible; a GPU that fails it gets no work.
two_gpus
cat >check.yaml <<'YAML'
name: check
command: ["sh", "-c", "echo $CUDA_VISIBLE_DEVICES"]
matrix: {m: [a, b, c]}
task: {gpus: 1}
resources:
  gpus: [0, 1]
  gpu_check: 'if [ "$CUDA_VISIBLE_DEVICES" = 1 ]; then echo "model does not fit on GPU $BENCHMATRIX_GPUS"; exit 3; fi'
YAML
run_bm 0 run check.yaml --out check --progress never
assert_contains out.txt "GPU 1 gets no work: resources.gpu_check failed on it (exit code 3): model does not fit on GPU 1"
assert_eq "$(cat check/tasks/*/stdout.log | sort -u)" "0" "GPUs the tasks ran on"
sed 's/if \[ "$CUDA_VISIBLE_DEVICES" = 1 \]; then/if true; then/' check.yaml >check-all.yaml
run_bm 2 run check-all.yaml --out never
assert_contains err.txt "no GPU left to run on: GPU 0 gets no work: resources.gpu_check failed on it"
[ ! -e never ] || fail "a failed gpu_check left a results folder"

# thermal_limit: a measured run waits until its GPU has cooled to the limit.
two_gpus
echo "temperature_file 0 $WORK/temp0" >>gpus.txt
echo 91 >temp0
cat >hot.yaml <<'YAML'
name: hot
command: ["true"]
matrix: {m: [a]}
task: {gpus: 1}
resources: {gpus: [0], thermal_limit: 80C}
YAML
# The GPU cools once the run has said it waits (the journal's thermal-wait), plus half a second.
(for _ in $(seq 600); do grep -qs thermal-wait hot/journal.jsonl && break; sleep 0.05; done
 sleep 0.5; date +%s.%N >cooled; echo 60 >temp0) &
run_bm 0 run hot.yaml --out hot --progress never
wait
assert_contains out.txt "wait  m=a: GPU 0 at 91C, above thermal_limit 80C: waiting for it to cool"
python3 -c "
import csv; cooled = float(open('cooled').read())
starts = [float(r['started_unix']) for r in csv.DictReader(open('hot/tasks/a/samples.csv'))]
assert starts and min(starts) >= cooled - 0.05, (starts, cooled)"
sed 's/thermal_limit: 80C/thermal_limit: hot/' hot.yaml >hot-bad.yaml
run_bm 2 run hot-bad.yaml --out never
assert_contains err.txt "resources.thermal_limit"

# cool_down: a slot rests between two tasks (not only between runs of one task).
cat >cool.yaml <<'YAML'
name: cool
command: ["true"]
matrix: {m: [a, b, c]}
resources: {cool_down: 700ms}
YAML
run_bm 0 run cool.yaml --out cool --progress never --jobs 1
python3 - <<'PY'
import csv
runs = []
for task in "abc":
    rows = [r for r in csv.DictReader(open(f"cool/tasks/{task}/samples.csv")) if r["metric"] == "wall_time"]
    runs.append((float(rows[0]["started_unix"]), float(rows[0]["value"])))
runs.sort()
for (start, wall), (next_start, _) in zip(runs, runs[1:]):
    assert next_start - (start + wall) >= 0.65, runs
PY
echo "gpu_monitor_test: ok"
