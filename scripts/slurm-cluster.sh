#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for trying and testing `--executor slurm`: munged,
# slurmctld and slurmd as plain background daemons (no systemd), every file in one folder,
# stopped by their PIDs.
#
#   scripts/slurm-cluster.sh install          install slurm-wlm and munge (Debian packages) if missing
#   scripts/slurm-cluster.sh start DIR        start it with its state in DIR (made, made searchable);
#                                             then `export SLURM_CONF=DIR/slurm.conf` for the clients
#   scripts/slurm-cluster.sh stop DIR         stop what `start DIR` started
#
# Options of start (environment): SLURM_TEST_CPUS (default 8: more than this machine may have, so
# that several elements run at once), SLURM_TEST_GPUS (default 2: GPU GRES backed by plain files
# in DIR, so no GPU is needed), SLURM_TEST_MEMORY (MiB, default 4096), SLURM_TEST_MAX_ARRAY
# (MaxArraySize, default 1001).
#
# Facts this relies on: without systemd, slurmd needs cgroup/v1 named in cgroup.conf (it is not
# used: proctrack/linuxproc and task/none), a GRES needs File= entries that exist (with Count=
# alone the node registers no GPUs and drains), munged refuses a socket whose parent folders are
# not searchable by all, and without slurmdbd a job's end state comes from `scontrol show job`
# while MinJobAge keeps it.
set -euo pipefail

die() { echo "slurm-cluster: $*" >&2; exit 1; }

install() {
  local missing=()
  for p in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  local end=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

start() {
  local dir=$1
  [ -n "$dir" ] || die "start: a folder for the cluster's state is needed"
  command -v slurmctld >/dev/null || die "slurmctld is not installed (scripts/slurm-cluster.sh install)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ ! -e "$dir/slurmctld.pid" ] || die "$dir already holds a cluster (stop it first)"
  # munged checks every folder above its socket: searchable by all, writable by its owner alone.
  local up="$dir"
  while [ "$up" != / ]; do
    chmod o+x,g+x "$up" 2>/dev/null || true
    up=$(dirname "$up")
  done
  chmod 755 "$dir"
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/jobs"
  chmod 700 "$dir/munge"
  local cpus=${SLURM_TEST_CPUS:-8} gpus=${SLURM_TEST_GPUS:-2} memory=${SLURM_TEST_MEMORY:-4096}
  local max_array=${SLURM_TEST_MAX_ARRAY:-1001}
  local node=bmnode user
  user=$(id -un)

  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
  wait_for 10 munged test -S "$dir/munge/munge.socket" || die "munged did not start: $(tail -3 "$dir/munge/munged.log")"

  local gres="" gres_types=""
  if [ "$gpus" -gt 0 ]; then
    : >"$dir/gres.conf"
    for ((i = 0; i < gpus; i++)); do
      : >"$dir/gpu$i"
      echo "NodeName=$node Name=gpu File=$dir/gpu$i" >>"$dir/gres.conf"
    done
    gres="Gres=gpu:$gpus"
    gres_types="GresTypes=gpu"
  fi
  echo "CgroupPlugin=cgroup/v1" >"$dir/cgroup.conf"
  cat >"$dir/slurm.conf" <<EOF
ClusterName=benchmatrix
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
MaxArraySize=$max_array
KillWait=5
SlurmdTimeout=30
InactiveLimit=0
MpiDefault=none
$gres_types
NodeName=$node NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory $gres State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=100
EOF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -i -f "$SLURM_CONF"
  slurmd -N "$node" -f "$SLURM_CONF"
  if ! wait_for 60 "the node" sh -c "sinfo -h -N -o %T | grep -Eq '^(idle|mixed|allocated)'"; then
    echo "slurm-cluster: the node did not become idle; sinfo says: $(sinfo -h -N -o '%T %E' 2>&1)" >&2
    tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
    stop "$dir"
    exit 1
  fi
  echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
  local dir=$1
  [ -n "$dir" ] && [ -d "$dir" ] || die "stop: no folder $dir"
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  # Jobs' processes (slurmstepd and what it ran) end with the daemons' session or here.
  pkill -f "slurmstepd.*$dir" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
