#!/usr/bin/env bash
# Start the machine-wide services the local backend and the tests use, when not running.
# (PostgreSQL for Airflow's metadata, MariaDB standing in for Aurora MySQL, Redis for the
# CeleryExecutor; the project's own Mosquitto is started by scripts/stack.sh with the
# project's TLS config, and tests start their own brokers.)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {  # host port name seconds
  for _ in $(seq 1 "$(( $4 * 10 ))"); do port_open "$1" "$2" && return 0; sleep 0.1; done
  echo "services: $3 did not open $1:$2 within $4 s" >&2; return 1
}

if ! port_open 127.0.0.1 3306; then
  echo "services: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_port 127.0.0.1 3306 MariaDB 60
fi
if ! mariadb --protocol=tcp -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1; then
  cat >&2 <<'MSG'
services: MariaDB is up but root cannot log in over TCP without a password.
The local backend connects as in config/local.env (AIRFLOW_CONN_COFFEE_MYSQL). Either
export AIRFLOW_CONN_COFFEE_MYSQL=mysql://USER:PASSWORD@127.0.0.1:3306/iot_lake for an
account of yours, or allow the local root login once:
  sudo mariadb -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
MSG
  exit 1
fi
echo "services: MariaDB on 127.0.0.1:3306 ready"

# PostgreSQL: Airflow's metadata DB (the Debian cluster, started with pg_ctlcluster): the
# project's role iot_lake_airflow (the scheduling tests' too) and this checkout's database
# ($IOT_LAKE_AIRFLOW_DB, from scripts/env.sh).
if ! port_open 127.0.0.1 5432; then
  echo "services: starting PostgreSQL"
  cluster="$(pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1, $2}')"
  if [ -z "$cluster" ]; then
    echo "services: no PostgreSQL cluster (Debian package postgresql; ./lake setup installs it)" >&2
    exit 1
  fi
  # shellcheck disable=SC2086  # "version name"
  pg_ctlcluster $cluster start
  wait_port 127.0.0.1 5432 PostgreSQL 60
fi
psql_admin() {  # as the cluster's superuser over its socket (peer auth on Debian)
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- psql -qtAX "$@"
  elif [ "$(id -un)" = postgres ]; then psql -qtAX "$@"
  else sudo -u postgres psql -qtAX "$@"; fi
}
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'iot_lake_airflow'")" != 1 ]; then
  psql_admin -c "CREATE ROLE iot_lake_airflow LOGIN CREATEDB PASSWORD 'iot_lake_airflow'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$IOT_LAKE_AIRFLOW_DB'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE $IOT_LAKE_AIRFLOW_DB OWNER iot_lake_airflow"
fi
echo "services: PostgreSQL on 127.0.0.1:5432 ready (database $IOT_LAKE_AIRFLOW_DB)"

# Redis: the CeleryExecutor's broker (IOT_LAKE_EXECUTOR=celery) and the scale-out tests'
# redis-server. Debian's service when there is one, else a daemon of our own.
if ! port_open 127.0.0.1 6379; then
  echo "services: starting Redis"
  if [ "$(id -u)" -eq 0 ] && command -v service >/dev/null && service redis-server start >/dev/null 2>&1; then :
  else
    mkdir -p "$ROOT/.run/redis"
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --dir "$ROOT/.run/redis" \
      --logfile "$ROOT/.run/redis/redis.log" --appendonly yes
  fi
  wait_port 127.0.0.1 6379 Redis 30
fi
echo "services: Redis on 127.0.0.1:6379 ready"
