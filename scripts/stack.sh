#!/usr/bin/env bash
# The local stand-ins for the ingestion side, as background processes of this checkout:
#   Mosquitto (mutual TLS, the project's certificates)   for AWS IoT Core
#   dynalite (DynamoDB API on LevelDB)                    for DynamoDB
#   python -m simulators.iot_core                          for IoT rules + Firehose
# Usage: scripts/stack.sh deps|start|stop|restart-ingest|status
# PIDs and logs live in .run/ (IOT_LAKE_RUN_DIR); data in the lake home (.lake/) and certs/.
# Mosquitto and the ingest service are supervised: when one dies (crash, kill -9) it is
# started again within a second; the broker's write-ahead log (<lake home>/iot_core/wal)
# holds every acknowledged message meanwhile, and the ingest service replays it on start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
RUN="${IOT_LAKE_RUN_DIR:-$ROOT/.run}"
mkdir -p "$RUN"
CERTS="${IOT_LAKE_CERTS_DIR:-$ROOT/certs}"
MQTT_HOST="${IOT_LAKE_MQTT_HOST:-127.0.0.1}"
MQTT_PORT="${IOT_LAKE_MQTT_PORT:-8883}"
BUFFER_INTERVAL="${IOT_LAKE_DEMO_BUFFER_INTERVAL:-5}"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
quiet() {  # run a step, keeping its chatter in .run/stack.log unless it fails
  "$@" >>"$RUN/stack.log" 2>&1 || { tail -20 "$RUN/stack.log" >&2; return 1; }
}
alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

supervise() {  # name command...: run it, and again whenever it exits, until SIGTERM
  local name="$1"; shift
  local child="" status
  trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi; exit 0' TERM INT
  while true; do
    "$@" &
    child=$!
    echo "$child" >"$RUN/$name.child.tmp" && mv -f "$RUN/$name.child.tmp" "$RUN/$name.child"
    wait "$child" && status=0 || status=$?
    echo "stack: $name (pid $child) exited with status $status; starting it again in 1 s" >&2
    sleep 1
  done
}

stop_pid() {  # name: SIGTERM (the ingest service flushes its buffers), wait, then report
  alive "$1" || { rm -f "$RUN/$1.pid"; return 0; }
  local pid; pid="$(cat "$RUN/$1.pid")"
  kill -TERM "$pid"
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stack: $1 (pid $pid) did not stop within 60 s" >&2; return 1
  fi
  rm -f "$RUN/$1.pid" "$RUN/$1.child"
  echo "stack: stopped $1"
}

deps() {  # what the stack needs beyond the venv: dynalite's pinned npm packages
  quiet python -m simulators.iot_core.dynamodb_local install
}

start_broker() {
  quiet python -m simulators.things --host "$MQTT_HOST" --port "$MQTT_PORT" \
    create --count "${IOT_LAKE_THINGS:-5}"
  if alive mosquitto; then return 0; fi
  if port_open "$MQTT_HOST" "$MQTT_PORT"; then
    echo "stack: $MQTT_HOST:$MQTT_PORT is taken by another process; set IOT_LAKE_MQTT_PORT" >&2
    return 1
  fi
  # The broker's write-ahead-log plugin, compiled against the installed Mosquitto.
  quiet python -c 'from simulators.iot_core.broker_wal import plugin_path; plugin_path()'
  supervise mosquitto mosquitto -c "$CERTS/mosquitto.conf" >>"$RUN/mosquitto.out" 2>&1 &
  echo $! >"$RUN/mosquitto.pid"
  for _ in $(seq 1 100); do port_open "$MQTT_HOST" "$MQTT_PORT" && break; sleep 0.1; done
  port_open "$MQTT_HOST" "$MQTT_PORT" || {
    echo "stack: Mosquitto did not start; see $CERTS/mosquitto-data/mosquitto.log" >&2
    return 1
  }
  echo "stack: Mosquitto (mutual TLS) on $MQTT_HOST:$MQTT_PORT"
}

start_ingest() {
  alive ingest && return 0
  supervise ingest python -m simulators.iot_core --buffer-interval "$BUFFER_INTERVAL" \
    --metrics-interval 1 >>"$RUN/ingest.log" 2>&1 &
  echo $! >"$RUN/ingest.pid"
  for _ in $(seq 1 200); do grep -q "reading the write-ahead log" "$RUN/ingest.log" && break; sleep 0.1; done
  grep -q "reading the write-ahead log" "$RUN/ingest.log" || {
    echo "stack: the ingest service did not start; see $RUN/ingest.log" >&2
    return 1
  }
  echo "stack: ingest service (IoT rules + Firehose buffering ${BUFFER_INTERVAL}s) running"
}

start() {
  deps
  start_broker
  quiet python -m simulators.iot_core.dynamodb_local start
  echo "stack: DynamoDB endpoint (dynalite) on ${IOT_LAKE_DYNAMODB_ENDPOINT:-http://127.0.0.1:8000}"
  start_ingest
}

stop() {
  stop_pid ingest
  python -m simulators.iot_core.dynamodb_local stop >/dev/null 2>&1 || true
  stop_pid mosquitto
}

status() {
  for name in mosquitto ingest; do
    if alive "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"
    else echo "$name: stopped"; fi
  done
  python -m simulators.iot_core.dynamodb_local status || true
}

case "${1:-status}" in
  deps) deps ;;
  start) start ;;
  stop) stop ;;
  # Stopping flushes every Firehose buffer to the raw bucket; starting again resumes.
  restart-ingest) stop_pid ingest; start_ingest ;;
  status) status ;;
  *) echo "usage: scripts/stack.sh deps|start|stop|restart-ingest|status" >&2; exit 2 ;;
esac
