# One-node SLURM cluster on this machine, for tests only (sourced by tests/slurm/run.sh).
#
# Everything lives in $CLUSTER (config, state, logs, munge key and socket); the system's own munge
# and slurm services, if any, are left alone. Clients find the cluster through SLURM_CONF, and
# through /etc/slurm/slurm.conf, a link to $CLUSTER/slurm.conf made for the run and removed by
# slurm_stop: the executor plugin's job step drops every SLURM_* variable, SLURM_CONF included,
# before its nested srun (snakemake-executor-plugin-slurm-jobstep 0.6.1), so srun inside a job
# only finds the default path. A machine with its own /etc/slurm/slurm.conf is refused.
# Needs root (slurmd launches job steps; munged is started as the munge user).

# Install the Debian/Ubuntu packages when a daemon is missing (apt-get; ~15 s here).
slurm_install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sbatch >/dev/null; then
        return 0
    fi
    command -v apt-get >/dev/null || { echo "slurm/munge not installed and no apt-get" >&2; return 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

# A TCP port nobody listens on (SLURM's defaults 6817/6818 may be taken by a real cluster).
_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# slurm_start DIR: write the config, start munged, slurmctld and slurmd, wait for an idle node.
# Exports SLURM_CONF. Daemons are stopped by slurm_stop DIR.
slurm_start() {
    CLUSTER=$1
    local host node ctld_port slurmd_port i
    host=$(hostname -s)
    # The hardware as slurmd sees it, e.g. "CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2
    # ThreadsPerCore=1 RealMemory=24105".
    node=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+ //')
    if [ -e /etc/slurm/slurm.conf ] || [ -L /etc/slurm/slurm.conf ]; then
        echo "/etc/slurm/slurm.conf exists: not a machine for a throwaway test cluster" >&2
        return 1
    fi
    ctld_port=$(_free_port)
    slurmd_port=$(_free_port)
    mkdir -p "$CLUSTER"/{state,spool,log,run}
    chmod 755 "$CLUSTER"

    # munge: a fresh key, the daemon as the munge user on a private socket (munged wants the
    # socket's folder searchable by all, and the key readable by its owner only).
    install -d -o munge -g munge -m 755 "$CLUSTER/munge"
    if ! runuser -u munge -- test -w "$CLUSTER/munge"; then
        echo "the munge user cannot reach $CLUSTER/munge (a parent folder not searchable by all?)" >&2
        return 1
    fi
    dd if=/dev/urandom of="$CLUSTER/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$CLUSTER/munge/munge.key"
    chmod 400 "$CLUSTER/munge/munge.key"
    runuser -u munge -- munged --key-file="$CLUSTER/munge/munge.key" --socket="$CLUSTER/munge/munge.socket" \
        --pid-file="$CLUSTER/munge/munged.pid" --log-file="$CLUSTER/munge/munged.log" \
        --seed-file="$CLUSTER/munge/munged.seed" || { cat "$CLUSTER/munge/munged.log" >&2; return 1; }

    # One pretend GPU (its device file is /dev/null): --gpus=1 requests from the profile are
    # scheduled as on a GPU node; the jobs themselves run on the CPU.
    cat >"$CLUSTER/slurm.conf" <<EOF
ClusterName=twostream-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$CLUSTER/munge/munge.socket
StateSaveLocation=$CLUSTER/state
SlurmdSpoolDir=$CLUSTER/spool
SlurmctldPidFile=$CLUSTER/run/slurmctld.pid
SlurmdPidFile=$CLUSTER/run/slurmd.pid
SlurmctldLogFile=$CLUSTER/log/slurmctld.log
SlurmdLogFile=$CLUSTER/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
MpiDefault=none
# Finished jobs stay visible to squeue for an hour (no accounting daemon: the executor plugin
# polls squeue, not sacct).
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 $node Gres=gpu:1 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    echo "NodeName=$host Name=gpu Count=1 File=/dev/null" >"$CLUSTER/gres.conf"
    export SLURM_CONF=$CLUSTER/slurm.conf
    mkdir -p /etc/slurm
    ln -s "$SLURM_CONF" /etc/slurm/slurm.conf

    slurmctld -f "$SLURM_CONF" || return 1
    slurmd -f "$SLURM_CONF" || return 1
    for i in $(seq 1 60); do
        if [ "$(timeout 5 sinfo -h -N -o %t 2>/dev/null)" = "idle" ]; then
            return 0
        fi
        sleep 1
    done
    echo "SLURM node not idle after 60 s:" >&2
    sinfo -N -l >&2 || true
    tail -n 20 "$CLUSTER/log/slurmctld.log" "$CLUSTER/log/slurmd.log" >&2 || true
    return 1
}

# slurm_stop DIR: stop the daemons slurm_start started there (by their pid files).
slurm_stop() {
    local dir=$1 pidfile pid i
    [ -n "$dir" ] || return 0
    if [ -f "$dir/slurm.conf" ]; then
        SLURM_CONF=$dir/slurm.conf scancel --user="$(id -un)" 2>/dev/null || true
    fi
    for pidfile in "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" "$dir/munge/munged.pid"; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || continue
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$dir/slurm.conf" ]; then
        rm -f /etc/slurm/slurm.conf
    fi
}
