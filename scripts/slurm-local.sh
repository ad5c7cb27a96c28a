#!/usr/bin/env bash
# Single-node Slurm (Debian 12 packages) without systemd, for Occam's Slurm tests.
# Usage: slurm-local.sh install|start|stop|all
# Everything mutable lives under $BASE ($SLURM_BASE); clients need SLURM_CONF=$BASE/etc/slurm.conf.
# `stop` stops only the daemons this script started, by the PIDs in their pid files.
# Pitfalls handled here: no systemd (daemons started by hand), the munge socket directory
# must be traversable by all, no cgroup plugins (proctrack/linuxproc, task/none), and every
# client needs SLURM_CONF. Adapted from shared/reference/slurm-local.sh.
set -euo pipefail
BASE=${SLURM_BASE:-${TMPDIR:-/tmp}/slurm-local}; export SLURM_CONF=$BASE/etc/slurm.conf
M=$BASE/munge; HOST=$(hostname -s)
log() { echo "[$(date +%T.%3N)] $*"; }
alive() { local s; s=$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null) && [ "$s" != Z ]; }  # zombie = gone
stop_pid() {  # stop_pid NAME PIDFILE: SIGTERM one daemon we started, by its PID, wait <=15s
  [ -s "$2" ] || return 0; local p; p=$(cat "$2")
  if alive "$p" && [ "$(cat /proc/$p/comm)" = "$1" ]; then kill -TERM "$p"; log "SIGTERM $1 pid $p"
    for _ in $(seq 150); do alive "$p" || break; sleep 0.1; done; ! alive "$p" || log "WARN $1 $p still alive"; fi
  rm -f "$2"; }
install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && { log "already installed"; return; }
  apt-cache show slurmd >/dev/null 2>&1 || apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 slurmctld slurmd slurm-client munge  # postinst start is denied/no-op w/o systemd
}
configure() {
  rm -rf "$BASE"/{state,spool,log,run}; mkdir -p "$BASE"/{etc,state,spool,log,run} "$M"
  chmod 755 "$M"                                  # munged: socket dir must be +x for all
  [ -s $M/munge.key ] || mungekey -c -k $M/munge.key   # root-owned 0600 key, munged runs as root
  local node; node=$(slurmd -C | head -1 | sed "s/^NodeName=[^ ]*/NodeName=$HOST NodeAddr=127.0.0.1/")
  cat > "$SLURM_CONF" <<EOF
ClusterName=testcluster
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$M/munge.sock
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=30
MinJobAge=600
$node
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}
start() {
  configure
  munged --socket=$M/munge.sock --key-file=$M/munge.key --log-file=$M/munged.log \
         --pid-file=$M/munged.pid --seed-file=$M/munged.seed
  for _ in $(seq 50); do munge -n -S $M/munge.sock | unmunge -S $M/munge.sock >/dev/null 2>&1 && break; sleep 0.1; done
  slurmctld; slurmd                                # both daemonize and write their pid files
  for _ in $(seq 120); do [ "$(sinfo -h -n "$HOST" -o %T 2>/dev/null)" = idle ] && break; sleep 0.25; done
  [ "$(sinfo -h -n "$HOST" -o %T)" = idle ] || { log "node not idle"; tail "$BASE"/log/*.log; return 1; }
  log "cluster up: $(sinfo -h -o '%P %T %N')"
}
stop() {
  export SLURM_CONF; if alive "$(cat $BASE/run/slurmctld.pid 2>/dev/null || echo 0)"; then
    scancel --user=root 2>/dev/null || true       # so no slurmstepd outlives slurmd
    for _ in $(seq 100); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done; fi
  stop_pid slurmd $BASE/run/slurmd.pid; stop_pid slurmctld $BASE/run/slurmctld.pid
  stop_pid munged $M/munged.pid
}
case "${1:-all}" in
  install) install ;; start) start ;; stop) stop ;;
  all) install; start ;;
  *) echo "usage: $0 install|start|stop|all" >&2; exit 2 ;;
esac
