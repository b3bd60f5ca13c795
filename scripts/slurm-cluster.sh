#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying `lrsweep slurm` out and for its tests:
# Debian's slurm-wlm and munge, run as root, everything under one state directory.
#
#   bash scripts/slurm-cluster.sh start    # prints the SLURM_CONF to export
#   bash scripts/slurm-cluster.sh stop
#
# LRSWEEP_SLURM_DIR (default /tmp/lrsweep-slurm) holds slurm.conf, the state, the spool and logs.
# Needs root (slurmd runs jobs as their users) and the packages: apt-get install slurm-wlm munge.
set -euo pipefail
dir="${LRSWEEP_SLURM_DIR:-/tmp/lrsweep-slurm}"
conf="$dir/slurm.conf"
host="$(hostname -s)"

stop() {
  for pidfile in "$dir/slurmctld.pid" "$dir/slurmd.pid"; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
  done
}

case "${1:-start}" in
stop)
  stop
  exit 0
  ;;
start) ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac

for bin in slurmctld slurmd sbatch munged; do
  command -v "$bin" >/dev/null || { echo "slurm-cluster: $bin is missing: apt-get install slurm-wlm munge" >&2; exit 1; }
done

# munge: a key, and the daemon as the munge user (slurm authenticates every call through it).
if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
  su -s /bin/sh munge -c 'munged --force'
fi

stop
mkdir -p "$dir/state" "$dir/spool"
cpus="$(nproc)"
mem_mb="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))"
cat > "$conf" <<CONF
ClusterName=lrsweep
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ReturnToService=2
# A job's batch script gets KillWait seconds between SIGTERM and SIGKILL (on scancel, requeue and
# the time limit): the lrsweep agent checkpoints and releases its trial in that grace.
KillWait=30
JobRequeue=1
MinJobAge=10
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

slurmctld -f "$conf"
slurmd -f "$conf"
export SLURM_CONF="$conf"
for _ in $(seq 1 60); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "slurm-cluster: up (node $host, $cpus CPUs): export SLURM_CONF=$conf"
    exit 0
  fi
  scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  sleep 0.5
done
echo "slurm-cluster: the node did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
exit 1
