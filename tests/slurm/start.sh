#!/usr/bin/env bash
# A one-node Slurm on localhost for the tests: munged, slurmctld and slurmd as plain background processes,
# everything (config, keys, state, logs) under one folder, no systemd.
#   tests/slurm/start.sh [FOLDER]      (default: $FOCALCLS_SLURM_DIR, else /tmp/focalcls-slurm)
# tests/slurm/stop.sh FOLDER ends it. /etc/slurm/slurm.conf becomes a link to FOLDER/slurm.conf: the srun
# that runs each Snakemake job inside its allocation finds the config only there, since the jobstep plugin
# clears every SLURM_* variable (SLURM_CONF too) before calling it. A machine whose /etc/slurm/slurm.conf
# is a real file already has a Slurm of its own, which this script leaves alone.
# Environment: FOCALCLS_SLURM_PORT (slurmctld's port, slurmd takes the next; default 6817),
# FOCALCLS_SLURM_CPUS (the node's CPUs, default 16: more than the box, so a job asking for the 8 CPUs the
# docs promise is scheduled and runs; SlurmdParameters=config_overrides lets slurmd declare them).
set -euo pipefail
dir=$(realpath -m "${1:-${FOCALCLS_SLURM_DIR:-/tmp/focalcls-slurm}}")
port=${FOCALCLS_SLURM_PORT:-6817}
cpus=${FOCALCLS_SLURM_CPUS:-16}
node=$(hostname -s)

for tool in munged mungekey slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install slurm-wlm munge" >&2; exit 1; }
done
system_conf=/etc/slurm/slurm.conf
if [[ ! -w "$(dirname "$system_conf")" && ! -w /etc ]]; then
    echo "$system_conf cannot be written by $(id -un): the test Slurm needs root" >&2
    exit 2
fi
if [[ -e "$system_conf" && ! -L "$system_conf" ]]; then
    echo "$system_conf exists: this machine has a Slurm of its own; no test Slurm is started here" >&2
    exit 2
fi
if [[ -e "$dir/slurmctld.pid" ]]; then
    echo "$dir holds a running Slurm (or a stale one): tests/slurm/stop.sh $dir first" >&2
    exit 1
fi
mkdir -p "$dir"/{munge,state,spool,log}
chmod 700 "$dir/munge"

# munge: its own key and socket, so a system munged (if any) is left alone.
[[ -f "$dir/munge/munge.key" ]] || mungekey --create --keyfile "$dir/munge/munge.key"
munged --force --socket "$dir/munge/munge.socket" --key-file "$dir/munge/munge.key" \
    --pid-file "$dir/munge/munged.pid" --log-file "$dir/log/munged.log" --seed-file "$dir/munge/munged.seed"

# Memory as the profile's largest request (train: 64000 MB) would need: nothing enforces it here
# (no cgroups), it only lets the profile's requests be scheduled as written.
cat >"$dir/slurm.conf" <<CONF
ClusterName=focalcls-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
# No accounting database: job states come from slurmctld (squeue), which keeps a finished job for
# MinJobAge seconds; an hour keeps a whole test run's jobs for its checks.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=131072 State=UNKNOWN
# Names unlike the profile's defaults (cpu, gpu): a run that reaches them took the partitions from the environment.
PartitionName=small Nodes=$node Default=YES MaxTime=INFINITE State=UP
PartitionName=accel Nodes=$node MaxTime=INFINITE State=UP
CONF

mkdir -p "$(dirname "$system_conf")"
ln -sfn "$dir/slurm.conf" "$system_conf"
slurmctld
slurmd
for _ in $(seq 60); do
    if sinfo --noheader --states=idle --format=%N 2>/dev/null | grep -q .; then
        echo "Slurm up: $system_conf -> $dir/slurm.conf"
        exit 0
    fi
    sleep 0.5
done
echo "Slurm did not come up within 30 s; its logs: $dir/log" >&2
tail -n 20 "$dir"/log/*.log >&2
exit 1
