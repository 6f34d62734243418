#!/usr/bin/env bash
# The whole pipeline on the local backend, from devices to dashboard tables:
#   setup -> weather stations over MQTT/mTLS -> rules engine + Firehose buffering -> raw
#   bucket -> weather_lake (crawl, flatten + UNNEST, checks, stats) ; coffee machines ->
#   MariaDB -> coffee_lake (Parquet export, checks, profile).
# The days processed are the last IOT_LAKE_DEMO_DAYS (default 3) complete days, UTC: the
# stations replay them plus today up to now.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
DAYS="${IOT_LAKE_DEMO_DAYS:-3}"
HOURS="$(( (DAYS + 1) * 24 ))"
PRESSES="${IOT_LAKE_DEMO_PRESSES:-40}"
TODAY="$(date -u +%F)"
DAY="$(date -u -d "$TODAY - 1 day" +%F)"
FIRST="$(date -u -d "$TODAY - $DAYS day" +%F)"
step() { printf '\n== %s\n' "$*"; }
days_back() { for i in $(seq "$DAYS" -1 1); do date -u -d "$TODAY - $i day" +%F; done; }
step "install (Debian packages, uv, the locked virtualenv) and services"
scripts/bootstrap.sh nodejs:node nodejs:npm
scripts/services.sh
scripts/stack.sh start
# Airflow as in production: scheduler + LocalExecutor + API server, PostgreSQL metadata;
# it starts in the background while the devices below produce the data.
scripts/airflow.sh start
trap 'scripts/airflow.sh stop' EXIT

step "lake_setup: lake layout, catalog, DynamoDB table, broker PKI, MariaDB schema"
python -m iot_lake.provisioning

step "weather: ${IOT_LAKE_THINGS:-5} stations replay ${HOURS} h of NOAA ISD, moved to end today"
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

step "coffee: 2 machines, $PRESSES presses a day (photo -> S3 event -> photo handler -> MariaDB)"
for day in $(days_back); do
  python -m simulators.coffee_machine --machines 2 --presses "$PRESSES" --rate 0 \
    --day "$day" --quiet 2>&1 | tail -1
done
python -m iot_lake.coffee.local_notifier 2>&1 | tail -1

step "weather_lake + coffee_lake: a backfill of $FIRST..$DAY each, run by the scheduler"
# One run per day and DAG (run type backfill, one at a time as the DAGs' max_active_runs
# say), tasks on the LocalExecutor, logs in the UI. The DAGs are paused again afterwards:
# unpausing one schedules its next nightly run (today's, at 00:00 UTC tomorrow).
scripts/airflow.sh ready
# Raw objects are filed by observation day (raw/weather/day=D/), so a backfilled day finds
# its readings however late they arrived: no arrival window to pass.
weather="$(scripts/airflow.sh backfill weather_lake "$FIRST" "$DAY")"
coffee="$(scripts/airflow.sh backfill coffee_lake "$FIRST" "$DAY")"
scripts/airflow.sh wait "$weather" "$coffee"
scripts/airflow.sh pause weather_lake coffee_lake

step "results"
python -m iot_lake.summary "$FIRST" "$DAY"
cat <<MSG

The lake:       ${IOT_LAKE_HOME:-$ROOT/.lake}  (raw/, curated/, photos/, catalog/)
Stack:          scripts/stack.sh status | ./lake stop
Airflow UI:     ./lake up   -> http://127.0.0.1:8080 (the backfill runs above, with task logs)
Dashboard:      http://127.0.0.1:8080/iot-lake/ (also in the UI's Browse menu)
Nightly runs:   unpause weather_lake / coffee_lake in the UI (next run: $TODAY, at 00:00 UTC tomorrow)
MSG
