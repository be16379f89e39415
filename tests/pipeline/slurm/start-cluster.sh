#!/usr/bin/env bash
# A real single-node SLURM cluster on this host, for the SLURM test (tests/pipeline/test_slurm.py).
#
#   tests/pipeline/slurm/start-cluster.sh          start munged, slurmctld and slurmd (idempotent)
#   tests/pipeline/slurm/start-cluster.sh stop     stop the daemons this script started
#   tests/pipeline/slurm/start-cluster.sh status   exit 0 when the cluster accepts jobs
#
# Needs root and Debian's `slurm-wlm` and `munge` packages (SLURM 22.05 on Debian 12):
#   apt-get install -y slurm-wlm munge
# The configuration goes to /etc/slurm/slurm.conf, where job steps (srun) look for it.
# Accounting is off, so `sacct` never reports a job: runs against this cluster must use
# `--slurm-status-command squeue`, and MinJobAge keeps finished jobs visible to squeue.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
STATE=/var/spool/slurmctld
SPOOL=/var/spool/slurmd
LOGS=/var/log/slurm
RUN=/run/mnist1d-slurm            # pid files of the daemons started here
PARTITION=${SLURM_TEST_PARTITION:-debug}
WAIT_S=${SLURM_START_TIMEOUT:-60}

die() { echo "start-cluster.sh: $*" >&2; exit 1; }

alive() {  # alive NAME: the daemon whose pid file this script wrote is running
    local pidfile=$RUN/$1.pid
    [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

ready() {  # the controller answers and the node takes jobs
    local state
    state=$(timeout 10 sinfo --noheader --partition "$PARTITION" --format '%T' 2>/dev/null | head -n1) || return 1
    [[ $state == idle* || $state == mixed* || $state == allocated* ]]
}

stop() {
    local name pid
    for name in slurmd slurmctld munged; do
        if alive "$name"; then
            pid=$(cat "$RUN/$name.pid")
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
            echo "stopped $name (pid $pid)"
        fi
        rm -f "$RUN/$name.pid"
    done
}

write_config() {
    local host cpus mem
    host=$(hostname -s)
    # the hardware as slurmd sees it (not `nproc`, which follows OMP_NUM_THREADS)
    hw=$(slurmd -C | head -n1)
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<< "$hw")
    mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<< "$hw")
    [[ -n $cpus && -n $mem ]] || die "cannot read CPUs and memory from 'slurmd -C': $hw"
    mem=$(( mem - 512 ))        # leave 512 MB to the system; jobs ask for memory with --mem
    mkdir -p "$CONF_DIR" "$STATE" "$SPOOL" "$LOGS" "$RUN"
    cat > "$CONF.new" <<CONF
# Written by tests/pipeline/slurm/start-cluster.sh: a single-node test cluster, accounting off.
ClusterName=mnist1d-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# No accounting: no slurmdbd, sacct reports nothing; squeue is the status command.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue for an hour (the executor polls squeue).
MinJobAge=3600
# Poll often: short test jobs should not wait for the scheduler.
SchedulerParameters=sched_interval=2,bf_interval=2
InactiveLimit=0
KillWait=5
Waittime=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    mv "$CONF.new" "$CONF"
}

start() {
    [[ $(id -u) == 0 ]] || die "must run as root (it starts slurmctld and slurmd)"
    for tool in munged slurmctld slurmd sinfo sbatch squeue; do
        command -v "$tool" >/dev/null || die "'$tool' not found: apt-get install -y slurm-wlm munge"
    done
    if alive slurmctld && alive slurmd && ready; then
        echo "cluster already running"; return 0
    fi
    stop >/dev/null
    write_config
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if ! timeout 5 munge -n >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/mnist1d.pid
        cp /run/munge/mnist1d.pid "$RUN/munged.pid"
    fi
    timeout 5 munge -n | timeout 5 unmunge >/dev/null || die "munge does not work"
    # -c: a clean start, forgetting jobs of an earlier run of this script
    slurmctld -c
    slurmd
    for _ in $(seq "$WAIT_S"); do
        if ready; then
            sinfo
            return 0
        fi
        # a node that came up DOWN (e.g. after an unclean stop) is resumed
        scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
    die "the cluster did not become ready in ${WAIT_S}s"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) ready ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac
