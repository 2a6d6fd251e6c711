#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try a grid's job array before a real cluster
# and for the tests (tests/test_slurm.py): Debian's slurmctld, slurmd, slurm-client and munge
# (installed if missing; needs root), started directly (no systemd), the node's CPUs as
# they are and N fake GPUs declared as gres (character devices like /dev/null: jobs see
# CUDA_VISIBLE_DEVICES, nothing computes on them).
#
#   bash scripts/slurm_cluster.sh start [--gpus N]   # prints: export SLURM_CONF=... (a cluster
#                                                    # already up is kept as it is)
#   bash scripts/slurm_cluster.sh stop
#
# Everything lives in $FL_TUNING_SLURM_DIR (default /tmp/fl_tuning_slurm): the config,
# the daemons' logs and state. Point the SLURM commands at it with SLURM_CONF.
set -euo pipefail
folder=${FL_TUNING_SLURM_DIR:-/tmp/fl_tuning_slurm}
conf="$folder/slurm.conf"

stop() {
    for daemon in slurmd slurmctld; do
        if [ -f "$folder/$daemon.pid" ]; then
            kill "$(cat "$folder/$daemon.pid")" 2>/dev/null || true
            rm -f "$folder/$daemon.pid"
        fi
    done
    pkill -x slurmstepd 2>/dev/null || true
}

start() {
    local gpus=0
    if [ "${1:-}" = "--gpus" ]; then gpus=$2; fi
    if [ "$(id -u)" != 0 ]; then
        echo "slurm_cluster: needs root (it installs and starts the SLURM daemons)" >&2; exit 2
    fi
    if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
            || ! command -v munged >/dev/null; then
        local packages="slurmctld slurmd slurm-client munge"
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages >/dev/null; } \
            || { echo "slurm_cluster: apt-get could not install $packages" >&2; exit 2; }
    fi
    if [ -f "$folder/slurmctld.pid" ] && SLURM_CONF="$conf" sinfo --noheader >/dev/null 2>&1; then
        echo "export SLURM_CONF=$conf"  # already up: its running jobs go on
        return 0
    fi
    stop
    rm -rf "$folder/ctld" "$folder/d"
    mkdir -p "$folder/ctld" "$folder/d"
    local host cpus
    host=$(hostname -s)
    cpus=$(nproc)
    # munge: the key the package made, its socket folder, the daemon as its own user
    mkdir -p /run/munge && chown munge:munge /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    fi
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- /usr/sbin/munged
    fi
    local gres_line="" node_gres=""
    if [ "$gpus" -gt 0 ]; then
        for ((i = 0; i < gpus; i++)); do
            rm -f "$folder/gpu$i"; mknod "$folder/gpu$i" c 1 3
        done
        gres_line="GresTypes=gpu"
        node_gres="Gres=gpu:$gpus"
        echo "NodeName=$host Name=gpu File=$folder/gpu[0-$((gpus - 1))]" > "$folder/gres.conf"
    else
        : > "$folder/gres.conf"
    fi
    cat > "$conf" <<EOF
ClusterName=fltuning
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$folder/ctld
SlurmdSpoolDir=$folder/d
SlurmctldPidFile=$folder/slurmctld.pid
SlurmdPidFile=$folder/slurmd.pid
SlurmctldLogFile=$folder/slurmctld.log
SlurmdLogFile=$folder/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdTimeout=30
$gres_line
NodeName=$host NodeHostname=$host CPUs=$cpus $node_gres State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$conf"
    slurmctld -f "$conf"
    slurmd -f "$conf"
    for _ in $(seq 1 60); do
        if sinfo --noheader --format=%T 2>/dev/null | grep -qx 'idle'; then
            echo "export SLURM_CONF=$conf"
            return 0
        fi
        sleep 0.5
    done
    echo "slurm_cluster: the node did not come up in 30 s; logs: $folder/slurmctld.log $folder/slurmd.log" >&2
    exit 1
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) stop ;;
    *) echo "usage: bash scripts/slurm_cluster.sh start [--gpus N] | stop" >&2; exit 2 ;;
esac
