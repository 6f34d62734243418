#!/usr/bin/env bash
# The Airflow UI with the project's DAGs on 127.0.0.1:8080.
#   ./lake up                 `airflow standalone` (LocalExecutor: the scheduler runs tasks)
#   ./lake up --workers N     CeleryExecutor with N worker processes (scripts/cluster.sh);
#                             IOT_LAKE_EXECUTOR=celery ./lake up does the same with
#                             IOT_LAKE_WORKERS (default 2)
set -euo pipefail
if [ "${1:-}" = "--workers" ]; then
  [ "${2:-}" -ge 1 ] 2>/dev/null || { echo "usage: ./lake up [--workers N]" >&2; exit 2; }
  export IOT_LAKE_EXECUTOR=celery IOT_LAKE_WORKERS="$2"
fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/bootstrap.sh"
"$ROOT/scripts/services.sh"
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
airflow db migrate >/dev/null
cat <<MSG
iot-lake: Airflow UI on http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT ($AIRFLOW__CORE__EXECUTOR)
  log in as 'admin'; the password is generated on first start into
  $passwords
  (cat it in another terminal). Ctrl-C stops Airflow.
MSG
if [ "$AIRFLOW__CORE__EXECUTOR" = CeleryExecutor ]; then
  exec "$ROOT/scripts/cluster.sh" "${IOT_LAKE_WORKERS:-2}"
fi
exec airflow standalone
