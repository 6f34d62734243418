#!/usr/bin/env bash
# Every benchmark under bench/ at its quick default size (each prints figures against a
# baseline measured in the same run). One benchmark: ./lake bench flatten [its options].
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/bootstrap.sh" nodejs:node nodejs:npm mosquitto-clients:mosquitto_pub
"$ROOT/scripts/services.sh"
"$ROOT/scripts/stack.sh" deps
cd "$ROOT"
if [ "$#" -gt 0 ]; then
  name="$1"; shift
  exec python "bench/$name.py" "$@"
fi
for name in dag_parse publish ingest faults flatten export workers; do
  printf '\n== bench/%s.py\n' "$name"
  python "bench/$name.py"
done
