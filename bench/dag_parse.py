"""How long the DAG processor needs to parse each DAG file (goal: under 300 ms each).

Each file is imported in a fresh interpreter that already has Airflow loaded, as the DAG
processor has: first a cold import (the file's own imports are new), then ``--repeat``
warm imports under fresh module names. A minimal one-task DAG parsed the same way is the
baseline, so the ratio shows what the project's files cost beyond Airflow itself.

    python bench/dag_parse.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 300.0

BASELINE_DAG = '''
import pendulum
from airflow.sdk import dag, task

@dag(schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def baseline():
    @task
    def noop() -> None:
        return None
    noop()

baseline()
'''

MEASURE = r'''
import importlib.util, json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/plugins"]
import airflow.sdk  # loaded before any DAG file, as in the DAG processor
path, repeat = sys.argv[2], int(sys.argv[3])
times = []
for i in range(repeat + 1):
    spec = importlib.util.spec_from_file_location(f"dagfile_{i}", path)
    module = importlib.util.module_from_spec(spec)
    start = time.perf_counter()
    spec.loader.exec_module(module)
    times.append((time.perf_counter() - start) * 1000)
print(json.dumps(times))
'''


def measure(path: Path, repeat: int) -> tuple[float, float]:
    """Cold and median warm import time of one DAG file, in milliseconds."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ROOT), str(path), str(repeat)],
        capture_output=True, text=True, check=True,
    ).stdout
    times = json.loads(out.strip().splitlines()[-1])
    return times[0], statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm imports per file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        baseline_file = Path(tmp) / "baseline_dag.py"
        baseline_file.write_text(BASELINE_DAG)
        base_cold, base_warm = measure(baseline_file, args.repeat)

    header = f"{'dag file':<24}{'cold ms':>10}{'warm ms':>10}{'x baseline':>12}"
    print(f"{header}  goal <{GOAL_MS:.0f} ms")
    print(f"{'(baseline: 1-task DAG)':<24}{base_cold:>10.1f}{base_warm:>10.1f}{1.0:>12.2f}")
    worst = 0.0
    files = sorted((ROOT / "dags").glob("*.py"))
    for path in files:
        cold, warm = measure(path, args.repeat)
        worst = max(worst, cold)
        flag = "ok" if cold < GOAL_MS else "SLOW"
        print(f"{path.name:<24}{cold:>10.1f}{warm:>10.1f}{cold / base_cold:>12.2f}  {flag}")
    print(f"bench dag_parse: files={len(files)} max_cold_ms={worst:.1f} "
          f"baseline_cold_ms={base_cold:.1f} goal_ms={GOAL_MS:.0f}")


if __name__ == "__main__":
    main()
