# Environment shared by every project script: source it, don't run it.
# Airflow lives inside the project (.airflow/, git-ignored: logs, config) with its metadata
# in PostgreSQL (a database of this checkout's own, made by scripts/services.sh), the
# project's dags/ and plugins/, no example DAGs, and a LocalExecutor sized for a small machine (or
# the CeleryExecutor: IOT_LAKE_EXECUTOR=celery).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# The project venv first: .tools/ holds only uv, but its venv has a python of its own.
export PATH="$ROOT/.venv/bin:$ROOT/.tools/bin:$PATH"
export PYTHONPATH="$ROOT:$ROOT/plugins${PYTHONPATH:+:$PYTHONPATH}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# Each checkout has its own metadata database, named after a hash of its path, so the runs
# of another clone on this machine never show up in this one's UI or scheduler.
# IOT_LAKE_AIRFLOW_DB names another one (iot_lake_airflow: the one all checkouts shared).
if [ -z "${IOT_LAKE_AIRFLOW_DB:-}" ]; then
  IOT_LAKE_AIRFLOW_DB="iot_lake_airflow_$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"
fi
case "$IOT_LAKE_AIRFLOW_DB" in
  *[!a-z0-9_]*|'') echo "IOT_LAKE_AIRFLOW_DB=$IOT_LAKE_AIRFLOW_DB: use a-z, 0-9 and _" >&2; return 1 ;;
esac
export IOT_LAKE_AIRFLOW_DB
# A local-only role on 127.0.0.1; the password is not a secret (the DB holds run metadata).
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-postgresql+psycopg2://iot_lake_airflow:iot_lake_airflow@127.0.0.1:5432/$IOT_LAKE_AIRFLOW_DB}"
# The executor: IOT_LAKE_EXECUTOR=local (default: the scheduler runs every task) or celery
# (tasks go through Redis to Celery workers, results to the metadata DB; see
# scripts/cluster.sh and docs/scaling.md).
case "${IOT_LAKE_EXECUTOR:-local}" in
  local) export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}" ;;
  celery)
    export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-CeleryExecutor}"
    export AIRFLOW__CELERY__BROKER_URL="${AIRFLOW__CELERY__BROKER_URL:-redis://127.0.0.1:6379/0}"
    # db+<the metadata DB's URL>, driver included: SQLAlchemy 2.1 would pick psycopg 3.
    _results="db+$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    export AIRFLOW__CELERY__RESULT_BACKEND="${AIRFLOW__CELERY__RESULT_BACKEND:-$_results}"
    # Each worker process runs this many tasks at once (Airflow's default, 16, is for
    # big machines); scale out with more workers instead.
    export AIRFLOW__CELERY__WORKER_CONCURRENCY="${AIRFLOW__CELERY__WORKER_CONCURRENCY:-2}"
    ;;
  *) echo "IOT_LAKE_EXECUTOR=$IOT_LAKE_EXECUTOR: use local or celery" >&2; return 1 ;;
esac
# LocalExecutor starts `parallelism` worker processes: 32 by default, 2 per core here.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-$(( $(nproc) * 2 ))}"
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="${AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES:-1}"
export AIRFLOW__API__WORKERS="${AIRFLOW__API__WORKERS:-1}"
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
# Where task workers report (the Execution API of the API server above).
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT/execution/}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
mkdir -p "$AIRFLOW_HOME" "$ROOT/.run"

# config/local.env holds the local backend's settings; variables already set win.
while IFS='=' read -r key value; do
  case "$key" in ''|'#'*) continue ;; esac
  if [ -z "${!key+x}" ]; then export "$key=$value"; fi
done < "$ROOT/config/local.env"
