#!/usr/bin/env bash
# Deployable artefacts. ./lake package mwaa [--airflow-version V] [--out DIR] [--settings FILE]:
# dags/, plugins.zip, requirements.txt and startup.sh for Amazon MWAA, built for that MWAA
# Airflow version (see scripts/package_mwaa.py, docs/aws.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-}"
shift || true
case "$target" in
  mwaa) [ -x "$ROOT/.venv/bin/python" ] || "$ROOT/scripts/bootstrap.sh"
        PATH="$ROOT/.tools/bin:$PATH" exec "$ROOT/.venv/bin/python" "$ROOT/scripts/package_mwaa.py" "$@" ;;
  *) echo "usage: ./lake package mwaa [--airflow-version V] [--out DIR] [--settings FILE]" >&2; exit 2 ;;
esac
