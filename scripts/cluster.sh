#!/usr/bin/env bash
# Airflow's components as separate processes on this machine, with N Celery workers:
# API server, scheduler (CeleryExecutor), DAG processor, triggerer, and workers 1..N.
# `airflow standalone` cannot do this (it forces the LocalExecutor). Runs in the
# foreground; SIGINT/SIGTERM stops every part.
#   scripts/cluster.sh [N]     N workers (default IOT_LAKE_WORKERS, else 2)
# Every worker acts like a machine of its own: its own working directory
# $RUN/workers/worker-<i>/ (pid file, worker log) and its own task-log folder
# (.../logs), Celery node name worker-<i>@<host>, log server on port 8793+i-1. What the
# workers share is what separate machines would: the metadata DB (PostgreSQL), the broker
# (Redis) and the lake (IOT_LAKE_*_URI: a directory here, S3 in compose). See docs/scaling.md.
set -euo pipefail
export IOT_LAKE_EXECUTOR=celery
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
RUN="${IOT_LAKE_RUN_DIR:-$ROOT/.run}"
WORKERS="${1:-${IOT_LAKE_WORKERS:-2}}"
LOG_PORT="${IOT_LAKE_WORKER_LOG_PORT:-8793}"
mkdir -p "$RUN/cluster"
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  echo "cluster: stopped"
}
trap stop INT TERM EXIT

core=()
component() {  # name command...: one process group per component, its log in $RUN/cluster/
  local name="$1"; shift
  setsid "$@" >>"$RUN/cluster/$name.log" 2>&1 < /dev/null &
  pids+=("$!"); core+=("$!")
}

airflow db migrate >>"$RUN/cluster/migrate.log" 2>&1
# The API server reads task logs of worker 1 from its log server (one port for all is all
# Airflow's log fetcher knows); each worker serves its own folder on its own port.
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$LOG_PORT"
component api-server airflow api-server
component scheduler airflow scheduler
component dag-processor airflow dag-processor
component triggerer airflow triggerer
for i in $(seq 1 "$WORKERS"); do
  dir="$RUN/workers/worker-$i"
  mkdir -p "$dir/logs"
  setsid env -C "$dir" AIRFLOW__LOGGING__BASE_LOG_FOLDER="$dir/logs" \
    AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$(( LOG_PORT + i - 1 ))" \
    airflow celery worker --celery-hostname "worker-$i@%h" --pid "$dir/worker.pid" \
    >>"$dir/worker.log" 2>&1 < /dev/null &
  pids+=("$!")
  echo "$!" >"$dir/group.pid"  # kill -- -<pid> stops this worker as a lost machine would
done
echo "cluster: $AIRFLOW__CORE__EXECUTOR, broker $AIRFLOW__CELERY__BROKER_URL, $WORKERS worker(s)" \
  "(logs: $RUN/cluster/, $RUN/workers/worker-<i>/)"
# Until stopped, or until a core component dies (then everything stops). A worker that
# dies is a lost machine: its tasks are retried on the others (docs/scaling.md).
wait -n "${core[@]}" || true
echo "cluster: a component exited; stopping" >&2
exit 1
