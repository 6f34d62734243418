#!/usr/bin/env bash
# Lint and the whole test suite against real services; what CI runs. Extra arguments go
# to pytest (e.g. ./lake test tests/dags -x).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# Tests also drive a browser (dashboard) and Node.js (local DynamoDB endpoint).
"$ROOT/scripts/bootstrap.sh" chromium nodejs npm
"$ROOT/scripts/services.sh"
cd "$ROOT"
echo "== ruff"
ruff check .
echo "== pytest"
python -m pytest "$@"
