# Environment shared by every project script: source it, don't run it.
# Airflow lives inside the project (.airflow/, git-ignored) with a SQLite metadata DB,
# the project's dags/ and plugins/, and no example DAGs.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# The project venv first: .tools/ holds only uv, but its venv has a python of its own.
export PATH="$ROOT/.venv/bin:$ROOT/.tools/bin:$PATH"
export PYTHONPATH="$ROOT:$ROOT/plugins${PYTHONPATH:+:$PYTHONPATH}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
mkdir -p "$AIRFLOW_HOME" "$ROOT/.run"

# config/local.env holds the local backend's settings; variables already set win.
while IFS='=' read -r key value; do
  case "$key" in ''|'#'*) continue ;; esac
  if [ -z "${!key+x}" ]; then export "$key=$value"; fi
done < "$ROOT/config/local.env"
