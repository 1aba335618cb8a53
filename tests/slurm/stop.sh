#!/usr/bin/env bash
# Ends the Slurm that tests/slurm/start.sh started in FOLDER (default as start.sh's): its daemons, by
# their pid files, and the jobs still on it; /etc/slurm/slurm.conf, when it links to FOLDER's config.
set -uo pipefail
dir=$(realpath -m "${1:-${FOCALCLS_SLURM_DIR:-/tmp/focalcls-slurm}}")
system_conf=/etc/slurm/slurm.conf
[[ "$(readlink "$system_conf")" == "$dir/slurm.conf" ]] && scancel --user "$(id -un)" 2>/dev/null
for daemon in slurmd slurmctld munge/munged; do
    pidfile="$dir/$daemon.pid"
    [[ -f "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    rm -f "$pidfile"
done
[[ "$(readlink "$system_conf")" == "$dir/slurm.conf" ]] && rm -f "$system_conf"
exit 0
