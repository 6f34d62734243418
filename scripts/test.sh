#!/usr/bin/env bash
# Lint and the whole test suite against real services; what CI runs. Extra arguments go
# to pytest (e.g. ./lake test tests/dags -x).
#   ./lake test --quick [ARGS]   lint + the unit tier only (pytest -m unit): no service
#                                started, no Debian package installed (needs .venv).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
if [ "${1:-}" = --quick ]; then
  shift
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    echo "test: no .venv yet: run ./lake setup once" >&2; exit 1
  fi
  echo "== ruff"
  ruff check .
  echo "== pytest (unit tier: tests that use no service, tests/conftest.py TIER_FIXTURES)"
  exec python -m pytest -m unit "$@"
fi
# Tests also drive a browser (dashboard), Node.js (local DynamoDB endpoint) and
# docker-compose (validates docker-compose.yaml; no engine needed).
"$ROOT/scripts/bootstrap.sh" chromium:chromium nodejs:node nodejs:npm docker-compose:docker-compose
"$ROOT/scripts/stack.sh" deps
"$ROOT/scripts/services.sh"
echo "== ruff"
ruff check .
echo "== pytest"
python -m pytest "$@"
