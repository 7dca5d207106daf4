# GPUs through NVML loaded at run time, on a machine without a GPU: a fake libnvidia-ml with the
# same symbols and scripted answers (tests/fake_nvml) stands in, through BENCHMATRIX_NVML_LIBRARY.
source "$(dirname "$0")/lib.sh"
: "${FAKE_NVML:?set by CTest}"
export BENCHMATRIX_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$WORK/gpus.txt"
cat >gpus.txt <<'TXT'
driver 550.54.15
gpu 0 GPU-11111111 00000000:19:00.0 143771 0-1 NVIDIA H200
gpu 1 GPU-22222222 00000000:3B:00.0 143771 - NVIDIA H200
util 0 87
TXT

# topology lists each GPU with what NVML says of it.
run_bm 0 topology
assert_contains out.txt "GPUs (NVML, driver 550.54.15): 2"
assert_contains out.txt "  gpu  0  NVIDIA H200  GPU-11111111  140.4 GiB  bus 00000000:19:00.0  near cpus 0-1  healthy"
assert_contains out.txt "  gpu  1  NVIDIA H200  GPU-22222222  140.4 GiB  bus 00000000:3B:00.0  near cpus unknown  healthy"

cat >g.yaml <<'YAML'
name: g
command: ["sh", "-c", "echo \"$CUDA_VISIBLE_DEVICES $CUDA_DEVICE_ORDER $BENCHMATRIX_GPUS\""]
matrix: {m: [a, b, c]}
task: {gpus: 1}
resources: {gpus: [0, 1]}
YAML

# GPUs that do not exist are an error before anything runs.
run_bm 2 run g.yaml --out never --gpus 7,9
assert_contains err.txt "--gpus: no GPU 7,9 on this machine; NVML (driver 550.54.15) finds 2 GPUs: 0-1"
[ ! -e never ] || fail "a bad --gpus left a results folder"

# Tasks see their GPU in PCI bus order, as NVML numbers them; the machine facts name the GPUs.
run_bm 0 run g.yaml --out ok --progress never
for m in a b c; do
  grep -Eq '^([01]) PCI_BUS_ID \1$' "ok/tasks/$m/stdout.log" || { cat "ok/tasks/$m/stdout.log" >&2; fail "task $m's GPU"; }
done
python3 -c "
import json; c = json.load(open('ok/plan.json'))['context']
assert c['gpu_driver'] == '550.54.15', c
assert [g['uuid'] for g in c['gpus']] == ['GPU-11111111', 'GPU-22222222'], c['gpus']"

# An unhealthy GPU gets no work, and says why; with none left, nothing runs.
echo "remapped 1 pending" >>gpus.txt
run_bm 0 run g.yaml --out unhealthy --progress never --force
assert_contains out.txt "note: GPU 1 (GPU-22222222) gets no work: row remapping pending (reset the GPU)"
for m in a b c; do
  assert_contains "unhealthy/tasks/$m/stdout.log" "0 PCI_BUS_ID 0"
done
echo "lost 0 0" >>gpus.txt
run_bm 2 run g.yaml --out none
assert_contains err.txt "no GPU left to run on: GPU 0 (GPU-11111111) gets no work: lost (NVML: GPU is lost); GPU 1"
[ ! -e none ] || fail "a run without a usable GPU left a results folder"

# NVML that cannot be used (a driver/library mismatch): the listed GPUs are trusted, said once.
echo "init_error 18" >gpus.txt
run_bm 0 run g.yaml --out mismatch --progress never
assert_contains out.txt "note: GPUs 0-1 are used as listed, unchecked: nvmlInit failed: RM has detected an NVML/RM version mismatch. (NVML error 18)"
[ "$(grep -c 'used as listed' out.txt)" = 1 ] || fail "the fallback was said more than once"

# GPU slots apart from CPU slots: two GPUs x 2 per GPU run four tasks at once on this 2-core
# machine, pinned (sharing the one usable core), without --oversubscribe. Each task waits for the
# other three to have started: run one or three at a time, they would time out instead.
cat >gpus.txt <<'TXT'
gpu 0 GPU-11111111 00000000:19:00.0 143771 - NVIDIA H200
gpu 1 GPU-22222222 00000000:3B:00.0 143771 - NVIDIA H200
TXT
mkdir barrier
cat >four.yaml <<YAML
name: four
command: ["sh", "-c", "touch $WORK/barrier/{m}; for i in \$(seq 200); do [ \$(ls $WORK/barrier | wc -l) -ge 4 ] && break; sleep 0.05; done; [ \$(ls $WORK/barrier | wc -l) -ge 4 ] && echo \"\$CUDA_VISIBLE_DEVICES \$BENCHMATRIX_CORES\""]
matrix: {m: [a, b, c, d]}
task: {gpus: 1, timeout: 30s}
resources: {gpus: [0, 1]}
YAML
run_bm 0 run four.yaml --out four --per-gpu 2 --progress never
assert_contains out.txt "Running 4 tasks on 4 slots (core 1, GPUs 0,1)"
assert_eq "$(cat four/tasks/*/stdout.log | sort | tr '\n' ' ')" "0 1 0 1 1 1 1 1 " "GPUs and cores of the four tasks"

# Seed 004's shape: max_concurrent spread over the GPUs does the same.
rm -f barrier/*
sed 's/resources: {gpus: \[0, 1\]}/resources: {gpus: [0, 1], max_concurrent: 4}/' four.yaml >four-mc.yaml
run_bm 0 run four-mc.yaml --out four-mc --progress never
assert_contains out.txt "Running 4 tasks on 4 slots"
