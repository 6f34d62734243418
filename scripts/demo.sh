#!/usr/bin/env bash
# The whole pipeline on the local backend, from devices to dashboard tables:
#   setup -> weather stations over MQTT/mTLS -> rules engine + Firehose buffering -> raw
#   bucket -> weather_lake (crawl, flatten + UNNEST, checks, stats) ; coffee machines ->
#   MariaDB -> coffee_lake (Parquet export, checks, profile).
# The day processed is yesterday (UTC): the stations replay the last 48 hours up to now.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
HOURS="${IOT_LAKE_DEMO_HOURS:-48}"
PRESSES="${IOT_LAKE_DEMO_PRESSES:-40}"
TODAY="$(date -u +%F)"
DAY="$(date -u -d "$TODAY - 1 day" +%F)"
step() { printf '\n== %s\n' "$*"; }

step "install (Debian packages, uv, the locked virtualenv) and services"
scripts/bootstrap.sh nodejs:node nodejs:npm
scripts/services.sh
scripts/stack.sh start
airflow db migrate >/dev/null

step "lake_setup: lake layout, catalog, DynamoDB table, broker PKI, MariaDB schema"
python -m iot_lake.provisioning

step "weather: ${IOT_LAKE_THINGS:-5} stations replay ${HOURS} h of NOAA ISD, last reading at now"
before="$(grep -c 'metrics rule=weather_to_firehose' .run/ingest.log || true)"
python -m simulators.weather_station --stations "${IOT_LAKE_THINGS:-5}" --hours "$HOURS" \
  --speed max --rebase end --quiet 2>&1 | tee .run/fleet.out
published="$(sed -n 's/.*published=\([0-9]*\).*/\1/p' .run/fleet.out | tail -1)"
# The rules engine has every message once its counter stops moving; stopping it then
# flushes every Firehose buffer into the raw bucket (the stack starts it again).
last=-1
for _ in $(seq 1 60); do
  sleep 1
  received="$(grep 'metrics rule=weather_to_firehose' .run/ingest.log | tail -1 |
    sed -n 's/.*received=\([0-9]*\).*/\1/p')"
  [ "${received:-0}" = "$last" ] && [ "$(grep -c 'metrics rule=weather_to_firehose' \
    .run/ingest.log)" -gt "$before" ] && break
  last="${received:-0}"
done
scripts/stack.sh restart-ingest
echo "weather: published=$published; rules engine: $(grep 'metrics rule=' .run/ingest.log |
  tail -2 | sed 's/.*metrics //' | paste -sd ';')"

step "weather_lake for $DAY (crawl -> flatten + UNNEST -> checks -> stats)"
airflow dags test weather_lake "$TODAY" 2>&1 | tail -n 3

step "coffee: 2 machines, $PRESSES presses on $DAY (photos -> face analysis -> MariaDB)"
python -m simulators.coffee_machine --machines 2 --presses "$PRESSES" --rate 0 --day "$DAY" --quiet

step "coffee_lake for $DAY (MariaDB -> GZIP Parquet -> catalog -> checks)"
airflow dags test coffee_lake "$TODAY" 2>&1 | tail -n 3

step "results"
python -m iot_lake.summary "$DAY"
cat <<MSG

The lake:       ${IOT_LAKE_HOME:-$ROOT/.lake}  (raw/, curated/, photos/, catalog/)
Stack:          scripts/stack.sh status | ./lake stop
Airflow UI:     ./lake up   -> http://127.0.0.1:8080 (DAG runs above are in its database)
Dashboard:      http://127.0.0.1:8080/plugin/iot-lake (inside the UI, after ./lake up)
MSG
