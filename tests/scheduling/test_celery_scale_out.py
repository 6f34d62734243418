"""Scale out for real: the CeleryExecutor with two workers against one LocalExecutor run.

The same three days of both DAGs are backfilled twice by a real scheduler on a fresh
PostgreSQL database, each time into a lake of its own on an S3 endpoint (a moto server
stands in for S3: the workers share nothing but it, the metadata DB and the broker):

1. `airflow standalone` (LocalExecutor, the scheduler's machine runs every task);
2. `scripts/cluster.sh 2` (CeleryExecutor, a redis-server of the test's own as the broker,
   two Celery workers as separate processes, each with its own working directory and task
   log folder), with more than one run active; once worker 2 has finished a task and is
   running another, its whole process group is SIGKILLed, as a lost machine.

Every run must succeed, tasks must have run on both workers, the killed worker's tasks
must have been retried on the other one, and the published tables, the rejects and the
quality results must be identical, row for row, to the LocalExecutor's.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.airflow_stack import (
    AREAS,
    BUCKET,
    DAG_IDS,
    LOG_PATH,
    TABLES,
    Stack,
    attempts,
    backfill,
    backfills_done,
    coffee_rows,
    free_port,
    free_port_pair,
    redis_server,
    runs,
    stack_env,
    start,
    stop,
    table_rows,
    the_days,
    wait_done,
    write_raw_days,
)
from tests.fixtures.mariadb import CoffeeDatabase, mariadb  # noqa: F401  (fixture)
from tests.fixtures.moto import create_bucket

# A real scheduler, API server and Celery workers (the fixtures add services and aws).
pytestmark = pytest.mark.scheduler


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    with redis_server(tmp_path) as port:
        yield port


@pytest.fixture
def coffee_days(mariadb: CoffeeDatabase) -> CoffeeDatabase:  # noqa: F811
    mariadb.truncate()
    mariadb.insert(coffee_rows(the_days()))
    return mariadb


RAW = f"s3://{BUCKET}/raw/"


def s3_lake(endpoint: str, name: str) -> dict[str, str]:
    """Every area of the lake in the moto server's bucket, under a prefix per stack, but for
    the raw objects that both stacks read."""
    return {
        "AIRFLOW_CONN_AWS_DEFAULT": '{"conn_type": "aws"}',
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **{f"IOT_LAKE_{a.upper()}_URI": f"s3://{BUCKET}/{name}/{a}/" for a in AREAS},
        # The same raw objects for every stack (the input; a reject names its object).
        "IOT_LAKE_RAW_URI": RAW,
    }


@pytest.mark.timeout(2400)
def test_two_celery_workers_match_the_local_executor_and_survive_a_lost_worker(
    tmp_path: Path, moto_endpoint: str, redis_port: int, coffee_days: CoffeeDatabase
) -> None:
    days = the_days()
    create_bucket(moto_endpoint, BUCKET)
    write_raw_days(RAW, days)
    stacks: list[Stack] = []
    figures: dict[str, float] = {}
    try:
        for name, extra, argv in (
            ("celery", {"IOT_LAKE_EXECUTOR": "celery",
                        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
                        "IOT_LAKE_WORKER_LOG_PORT": str(free_port_pair())},
             ["scripts/cluster.sh", "2"]),
            ("local", {"IOT_LAKE_EXECUTOR": "local",
                       "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
             ["bash", "-c", "source scripts/env.sh && exec airflow standalone"]),
        ):  # fmt: skip
            env, dsn, _ = stack_env(tmp_path, name, s3_lake(moto_endpoint, name), extra)
            stack = Stack(name, env, dsn, f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}",
                          Path(env["IOT_LAKE_RUN_DIR"]))
            stacks.append(stack)
            start(stack, argv)
            started = time.monotonic()
            backfill(stack, days)
            if name == "celery":
                killed = kill_worker_2_mid_task(stack, timeout=900)
            wait_done(stack, timeout=1500)
            figures[name] = time.monotonic() - started
            stop(stack)

        celery, local = stacks
        print(f"\nbackfill of {len(days)} days x {len(DAG_IDS)} DAGs: LocalExecutor "
              f"{figures['local']:.0f} s, CeleryExecutor with 2 workers {figures['celery']:.0f} s")
        for stack in stacks:
            assert set(runs(stack).values()) == {"success"}, runs(stack)
            assert len(runs(stack)) == len(days) * len(DAG_IDS)
        # More than one run was active at once.
        [(overlaps,)] = celery.sql(
            "SELECT count(*) FROM dag_run a JOIN dag_run b ON a.id < b.id"
            " AND a.start_date < b.end_date AND b.start_date < a.end_date"
            " WHERE a.backfill_id = ANY(%s) AND b.backfill_id = ANY(%s)",
            celery.backfills, celery.backfills,
        )
        assert overlaps > 0
        # Tasks ran on both workers (each attempt's log is in the folder of the worker(s)
        # that ran it: a deferred attempt may resume on the other one).
        where = attempts(celery)
        tis = celery.sql(
            "SELECT dag_id, run_id, task_id, try_number, state FROM task_instance"
            " WHERE run_id IN (SELECT run_id FROM dag_run WHERE backfill_id = ANY(%s))",
            celery.backfills,
        )
        placed = {(d, r, t, n): sorted(where.get((d, r, t, n), ())) for d, r, t, n, _ in tis}
        print("where each task ran:", json.dumps(
            {f"{d} {r[-25:]} {t} try {n}": w for (d, r, t, n), w in sorted(placed.items())},
            indent=1))
        assert {w for workers in placed.values() for w in workers} == {"worker-1", "worker-2"}
        assert all(placed.values()), placed  # every task's final attempt ran on a worker
        # The killed worker's tasks were retried, on the worker that was left.
        assert killed, "no task was running on worker 2 when it was killed"
        for dag, run, task, attempt in killed:
            [(state, tries)] = celery.sql(
                "SELECT state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s"
                " AND task_id = %s", dag, run, task,
            )  # fmt: skip
            assert state == "success" and tries > attempt, (dag, run, task, state, tries)
            assert where[(dag, run, task, tries)] == {"worker-1"}
        print("killed on worker-2 and retried on worker-1:", killed)
        # The lake: the same rows whichever executor, worker or attempt made them.
        for table in TABLES:
            expected = table_rows(local.lake(), table, days)
            assert expected, f"{table} is empty"
            assert table_rows(celery.lake(), table, days) == expected, table
    finally:
        for stack in stacks:
            stop(stack)
            stack.drop()


def kill_worker_2_mid_task(stack: Stack, timeout: float) -> list[tuple[str, str, str, int]]:
    """SIGKILL worker 2's process group once it has finished a task and runs another;
    the (dag, run, task, try) it was running."""
    deadline = time.monotonic() + timeout
    worker = stack.run_dir / "workers" / "worker-2"
    while time.monotonic() < deadline:
        assert not backfills_done(stack), "the backfill ended before worker 2 could be killed"
        logged = []
        for log in (worker / "logs").rglob("attempt=*.log"):
            match = LOG_PATH.search(str(log))
            if match:
                logged.append((match["dag"], match["run"], match["task"], int(match["try"])))
        # A deferrable sensor's attempt goes on in the triggerer and resumes on any worker
        # (no retry to see): the kill waits for a task that runs on the worker itself.
        states = {
            key: stack.sql(
                "SELECT state FROM task_instance WHERE dag_id = %s AND run_id = %s"
                " AND task_id = %s AND try_number = %s AND operator NOT LIKE '%%Async'",
                *key,
            )
            for key in logged
        }
        running = [k for k, s in states.items() if s == [("running",)]]
        finished = [k for k, s in states.items() if s == [("success",)]]
        if running and finished:
            os.killpg(int((worker / "group.pid").read_text()), signal.SIGKILL)
            return running
        time.sleep(0.5)
    raise AssertionError(f"worker 2 never ran a second task\n{stack.log_tail()}")
