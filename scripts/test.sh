#!/usr/bin/env bash
# Lint and the whole test suite against real services; what CI runs. Extra arguments go
# to pytest (e.g. ./lake test tests/dags -x).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# Tests also drive a browser (dashboard), Node.js (local DynamoDB endpoint) and
# docker-compose (validates docker-compose.yaml; no engine needed).
"$ROOT/scripts/bootstrap.sh" chromium:chromium nodejs:node nodejs:npm docker-compose:docker-compose
"$ROOT/scripts/stack.sh" deps
"$ROOT/scripts/services.sh"
cd "$ROOT"
echo "== ruff"
ruff check .
echo "== pytest"
python -m pytest "$@"
