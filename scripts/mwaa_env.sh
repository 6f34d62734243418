#!/usr/bin/env bash
# The library on MWAA's own versions: ./lake package mwaa's bundle for one MWAA Airflow
# version, installed as MWAA installs it (the bundle's requirements.txt under MWAA's
# essential constraints, from PyPI), into .mwaa/<version>/venv on the image's Python minor
# version, plus the test tools; then the DAG-level tests run there.
#
#   scripts/mwaa_env.sh <version> [pytest args]     (tests/packaging/test_mwaa_environment.py)
#
# The venv is rebuilt only when the bundle's requirements/constraints change.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
version="${1:?usage: scripts/mwaa_env.sh <MWAA Airflow version> [pytest args]}"
shift
home="$ROOT/.mwaa/$version"
mkdir -p "$home"
"$ROOT/lake" package mwaa --airflow-version "$version" --out "$home/dist" >/dev/null

python_minor="$(sed -n 's/.*(Python \([0-9.]*\)).*/\1/p' "$home/dist/requirements.txt" | head -1)"
# MWAA's Python; uv cannot download one here (no network beyond the package registries),
# so it is looked up on the machine (pyenv or the distribution).
python="$(uv python find "$python_minor" 2>/dev/null \
  || "python$python_minor" -c 'import sys; print(sys.executable)' 2>/dev/null \
  || { command -v pyenv >/dev/null \
       && find "$(pyenv root)/versions" -maxdepth 3 -path "*/$python_minor.*/bin/python$python_minor" \
          | sort -V | tail -1; } || true)"
if [ -z "$python" ]; then
  echo "mwaa_env: no Python $python_minor on this machine (MWAA $version runs $python_minor)" >&2
  exit 3
fi

# The test tools at their locked versions, under the same constraints as the bundle.
tools="$home/test-tools.txt"
python3 - "$ROOT/uv.lock" >"$tools" <<'EOF'
import sys, tomllib
locked = {p["name"]: p["version"] for p in tomllib.load(open(sys.argv[1], "rb"))["package"]}
for name in ("pytest", "pytest-timeout", "moto", "psutil"):
    extra = "[server]" if name == "moto" else ""
    print(f"{name}{extra}=={locked[name]}")
EOF
requirements="$home/requirements.txt"
sed "s|/usr/local/airflow/dags/|$home/dist/dags/|" "$home/dist/requirements.txt" >"$requirements"
stamp="$(cat "$requirements" "$home/dist/dags/constraints.txt" "$tools" \
  "$ROOT/scripts/mwaa/$version/mwaa_essential_constraints.txt" | sha256sum | cut -c1-16)-$python"
if [ "$(cat "$home/venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$home/venv"
  uv venv --quiet --python "$python" "$home/venv"
  # PyPI only, as on MWAA: none of this machine's local wheel folders or indexes.
  env -u PIP_FIND_LINKS UV_NO_CONFIG=1 VIRTUAL_ENV="$home/venv" uv pip install --quiet \
    --python "$home/venv/bin/python" --compile-bytecode \
    -r "$requirements" -r "$tools" \
    --constraint "$ROOT/scripts/mwaa/$version/mwaa_essential_constraints.txt"
  echo "$stamp" >"$home/venv/.stamp"
fi

# Run with that venv only: its Airflow, its own test home (another Airflow's metadata
# schema must not share the main suite's SQLite DB).
export PATH="$home/venv/bin:$PATH"
export IOT_LAKE_AIRFLOW_TEST_HOME="$home/airflow-test"
rm -rf "$IOT_LAKE_AIRFLOW_TEST_HOME"
cd "$ROOT"
exec "$home/venv/bin/python" -m pytest -p no:cacheprovider "$@"
