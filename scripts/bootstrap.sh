#!/usr/bin/env bash
# Make a fresh Debian machine (Python 3.11) ready: Debian packages, uv, the locked venv.
# Safe to run again: each step checks first and does nothing when already done.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
UV_VERSION=0.13.9

# Debian packages: build deps of mysqlclient (pkg-config, libmysqlclient, gcc, headers),
# the local backend's services (Mosquitto with the headers its WAL plugin is compiled
# against, MariaDB, PostgreSQL for Airflow's metadata, Redis for the CeleryExecutor's
# broker), openssl; callers add what they drive.
# An entry "package:command" is satisfied by the command already being on PATH, whatever
# installed it (Node.js from NodeSource ships npm and conflicts with Debian's npm).
packages=(pkg-config default-libmysqlclient-dev gcc python3-dev python3-venv
          mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev mariadb-server postgresql
          redis-server openssl
          ca-certificates "$@")
missing=()
for entry in "${packages[@]}"; do
  pkg="${entry%%:*}"; cmd="${entry#*:}"
  if [ "$cmd" != "$entry" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# uv, pinned, in a project-local tool venv (never touches the system Python).
if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  if [ ! -x "$ROOT/.tools/bin/uv" ]; then
    echo "bootstrap: installing uv $UV_VERSION into .tools/"
    python3 -m venv "$ROOT/.tools"
    "$ROOT/.tools/bin/pip" install -q "uv==$UV_VERSION"
  fi
fi

# The project's virtual environment, exactly as locked, with its bytecode compiled once
# here (as Airflow's images do): machines that set PYTHONDONTWRITEBYTECODE would otherwise
# compile Airflow's imports in every process, which triples a DAG file's parse time.
uv sync --frozen --compile-bytecode --quiet
echo "bootstrap: ready ($(python --version), airflow $(python -c 'import airflow; print(airflow.__version__)'))"
