#!/usr/bin/env bash
# The Airflow UI with the project's DAGs: `airflow standalone` on 127.0.0.1:8080.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/bootstrap.sh"
"$ROOT/scripts/services.sh"
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
airflow db migrate >/dev/null
cat <<MSG
iot-lake: Airflow UI on http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT
  log in as 'admin'; the password is generated on first start into
  $passwords
  (cat it in another terminal). Ctrl-C stops Airflow.
MSG
exec airflow standalone
