"""Benchmark: a backfill of both DAGs on the CeleryExecutor with 1 and with N workers.

For each worker count, a fresh Airflow stack (`scripts/cluster.sh N`: a fresh PostgreSQL
database, a redis-server of its own, N Celery workers as separate processes) backfills the
last ``--days`` complete days of `weather_lake` and `coffee_lake` (two runs of each DAG at
once) into a lake directory of its own, from the same raw objects and MariaDB rows. Prints
the wall time from the backfills' creation to their end, and each count's speed-up against
1 worker measured in the same run. Every run must succeed, else it fails.

    ./lake bench workers [--days 3] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))

from tests.fixtures.airflow_stack import (  # noqa: E402
    Stack,
    attempts,
    backfill,
    coffee_rows,
    free_port_pair,
    redis_server,
    runs,
    stack_env,
    start,
    stop,
    the_days,
    wait_done,
    write_raw_days,
)
from tests.fixtures.mariadb import CoffeeDatabase  # noqa: E402


def coffee_database(days: list[str]) -> CoffeeDatabase:
    from iot_lake.config import SQL_DIR

    db = CoffeeDatabase(name=f"iot_lake_bench_{uuid.uuid4().hex[:12]}", host="127.0.0.1",
                        port=3306)
    with closing(db.connect(database="")) as admin, closing(admin.cursor()) as cur:
        cur.execute(f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4")
    db.execute((SQL_DIR / "aurora" / "coffees.sql").read_text())
    db.insert(coffee_rows(days))
    return db


def measure(tmp: Path, workers: int, days: list[str], redis_port: int, db: CoffeeDatabase):
    name = f"workers{workers}"
    lake = {"IOT_LAKE_HOME": str(tmp / name / "lake")}
    env, dsn, _ = stack_env(tmp, name, lake, {
        "IOT_LAKE_EXECUTOR": "celery",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/{workers}",
        "IOT_LAKE_WORKER_LOG_PORT": str(free_port_pair()),
        "AIRFLOW_CONN_COFFEE_MYSQL": db.connection_json(),
    })  # fmt: skip
    stack = Stack(name, env, dsn, f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}",
                  Path(env["IOT_LAKE_RUN_DIR"]))
    try:
        write_raw_days(f"file://{tmp / name / 'lake' / 'raw'}", days)
        start(stack, ["scripts/cluster.sh", str(workers)])
        started = time.monotonic()
        backfill(stack, days)
        wait_done(stack, timeout=3600)
        seconds = time.monotonic() - started
        states = runs(stack)
        if set(states.values()) != {"success"}:
            raise SystemExit(f"{workers} worker(s): runs did not all succeed: {states}")
        per_worker: dict[str, int] = {}
        for workers_of_attempt in attempts(stack).values():
            for worker in workers_of_attempt:
                per_worker[worker] = per_worker.get(worker, 0) + 1
        return seconds, per_worker
    finally:
        stop(stack)
        stack.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    days = the_days(args.days)
    db = coffee_database(days)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp_name:
            tmp = Path(tmp_name)
            with redis_server(tmp) as redis_port:
                results = {
                    n: measure(tmp, n, days, redis_port, db) for n in sorted(set(args.workers))
                }
    finally:
        db.execute(f"DROP DATABASE IF EXISTS `{db.name}`")
    base = results[min(results)][0]
    print(f"backfill of {len(days)} days x 2 DAGs ({days[0]}..{days[-1]}), CeleryExecutor:")
    for n, (seconds, per_worker) in results.items():
        print(f"  {n} worker(s): {seconds:6.0f} s  speed-up x{base / seconds:.2f} vs "
              f"{min(results)}  task attempts per worker: {per_worker}")
    figures = " ".join(f"seconds_{n}={seconds:.0f}" for n, (seconds, _) in results.items())
    top = max(results)
    print(f"bench workers: {figures} speedup={base / results[top][0]:.2f} "
          f"workers={top} days={len(days)}")


if __name__ == "__main__":
    main()
