#!/usr/bin/env bash
# Airflow as a background service of this checkout, the way it runs in production: API
# server (UI + the Execution API that workers report to), scheduler with LocalExecutor,
# DAG processor and triggerer (`airflow standalone`), metadata in PostgreSQL.
#   scripts/airflow.sh start     start it unless one already answers on 127.0.0.1:8080
#   scripts/airflow.sh ready     wait until API server, scheduler, DAG processor are healthy
#   scripts/airflow.sh stop      stop the one this script started
#   scripts/airflow.sh backfill DAG FROM TO [CONF]   backfill, run it, print the runs
#   scripts/airflow.sh status
# PID and log in .run/airflow.{pid,log}; task logs in $AIRFLOW_HOME/logs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
RUN="$ROOT/.run"
PIDFILE="$RUN/airflow.pid"
HEALTH="http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT/api/v2/monitor/health"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
meta() {  # SQL against the metadata DB: one value per line, fields split by '|'
  psql "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN/+psycopg2/}" -qtAX -c "$1"
}
healthy() {
  local body; body="$(curl -fsS "$HEALTH" 2>/dev/null)" || return 1
  python 2>/dev/null -c '
import json, sys
h = json.load(sys.stdin)
sys.exit(0 if all(h.get(k, {}).get("status") == "healthy" for k in
                  ("metadatabase", "scheduler", "dag_processor", "triggerer")) else 1)' <<<"$body"
}

start() {
  if port_open "$AIRFLOW__API__HOST" "$AIRFLOW__API__PORT"; then
    echo "airflow: already running on $AIRFLOW__API__HOST:$AIRFLOW__API__PORT"
  else
    airflow db migrate >>"$RUN/airflow.log" 2>&1
    if [ "$AIRFLOW__CORE__EXECUTOR" = CeleryExecutor ]; then  # IOT_LAKE_EXECUTOR=celery
      setsid "$ROOT/scripts/cluster.sh" >>"$RUN/airflow.log" 2>&1 < /dev/null &
    else
      setsid airflow standalone >>"$RUN/airflow.log" 2>&1 < /dev/null &
    fi
    echo $! >"$PIDFILE"
    echo "airflow: starting (log: $RUN/airflow.log)"
  fi
}

ready() {
  for _ in $(seq 1 180); do
    healthy && { echo "airflow: healthy on $HEALTH"; return 0; }
    [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null && break
    sleep 1
  done
  tail -30 "$RUN/airflow.log" >&2
  echo "airflow: not healthy within 180 s (log: $RUN/airflow.log)" >&2
  return 1
}

stop() {
  [ -f "$PIDFILE" ] || return 0
  local pid; pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
  fi
  rm -f "$PIDFILE"
  echo "airflow: stopped"
}

wait_parsed() {  # dag_id...: the DAG processor has serialized each DAG
  for dag in "$@"; do
    for _ in $(seq 1 120); do
      [ "$(meta "SELECT count(*) FROM serialized_dag WHERE dag_id = '$dag'")" -gt 0 ] && break
      sleep 1
    done
  done
}

backfill() {  # dag from to [conf]: one backfill run per day, one at a time, then the result
  local dag="$1" from="$2" to="$3" conf="${4:-}"
  wait_parsed "$dag"
  airflow backfill create --dag-id "$dag" --from-date "$from" --to-date "$to" \
    --max-active-runs 1 --reprocess-behavior completed ${conf:+--dag-run-conf "$conf"} \
    >"$RUN/backfill-$dag.log" 2>&1 || { tail -20 "$RUN/backfill-$dag.log" >&2; return 1; }
  local id; id="$(meta "SELECT max(id) FROM backfill WHERE dag_id = '$dag'")"
  # Backfill runs only start on an unpaused DAG. The DAG processor first moves the next
  # scheduled run past the backfilled days (the latest automated run), so unpausing does
  # not also start a catch-up from start_date.
  for _ in $(seq 1 120); do
    [ "$(meta "SELECT coalesce(next_dagrun > '$to', false) FROM dag WHERE dag_id = '$dag'")" = t ] && break
    sleep 1
  done
  airflow dags unpause "$dag" >>"$RUN/backfill-$dag.log" 2>&1
  echo "$id"
}

wait_backfills() {  # backfill id...: until completed; prints every run; fails if one failed
  local ids; ids="$(IFS=,; echo "$*")"
  for _ in $(seq 1 1800); do
    [ "$(meta "SELECT count(*) FROM backfill WHERE id IN ($ids) AND completed_at IS NULL")" = 0 ] && break
    sleep 1
  done
  meta "SELECT dag_id, to_char(logical_date, 'YYYY-MM-DD'), run_type, state,
               round(extract(epoch FROM end_date - start_date))::int || ' s'
        FROM dag_run WHERE backfill_id IN ($ids) ORDER BY dag_id, logical_date" |
    awk -F'|' '{printf "%-12s %s  %s  %-8s %s\n", $1, $2, $3, $4, $5}'
  local bad; bad="$(meta "SELECT count(*) FROM dag_run WHERE backfill_id IN ($ids) AND state <> 'success'")"
  if [ "$bad" != 0 ]; then
    echo "airflow: $bad run(s) did not succeed; failed tasks and their logs:" >&2
    meta "SELECT dag_id || ' ' || run_id || ' ' || task_id FROM task_instance
          WHERE state = 'failed' AND run_id IN
            (SELECT run_id FROM dag_run WHERE backfill_id IN ($ids))" >&2
    echo "  logs: $AIRFLOW_HOME/logs/dag_id=<dag>/run_id=<run>/task_id=<task>/" >&2
    return 1
  fi
}

pause() { for dag in "$@"; do airflow dags pause "$dag" >>"$RUN/airflow.log" 2>&1; done; }

case "${1:-status}" in
  start) start ;;
  ready) ready ;;
  stop) stop ;;
  backfill) shift; backfill "$@" ;;
  wait) shift; wait_backfills "$@" ;;
  pause) shift; pause "$@" ;;
  status) healthy && echo "airflow: healthy on $HEALTH" || echo "airflow: not running" ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
