"""The real scheduler after demo-style runs: it advances, and hand-made runs never stall it.

An ``airflow standalone`` (API server, scheduler with LocalExecutor, DAG processor,
triggerer) on a fresh PostgreSQL database and a free port runs ``sched_probe`` (the
project's ``DailyTimetable``, catchup, ``max_active_runs=1``) the way ``./lake demo`` and a
user do: a backfill of days D-4..D-3 while the DAG is paused, a run triggered from the REST API
(the UI's call) for D-1, then unpause. The scheduler must run D-2 itself, count the manual
D-1 as D-1's run and move on to today (created at 00:00 UTC tomorrow) instead of looping
on "run already exists" (issue 13), and a later manual run of a day it already ran must not
disturb it either. The next run must be right on every DAG-processor pass (sampled over
several), never the manual run's day, and the scheduler must never meet an existing run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import ROOT
from tests.dashboard.api_server import free_port
from tests.fixtures.airflow_stack import StackClient

# The project's role (scripts/services.sh), on the maintenance database: each test makes
# and drops a database of its own, never touching a checkout's.
ADMIN_DSN = "postgresql://iot_lake_airflow:iot_lake_airflow@127.0.0.1:5432/postgres"
DAGS = Path(__file__).resolve().parent / "dags"
DAG_ID = "sched_probe"


@dataclass
class Stack(StackClient):
    url: str
    dsn: str
    home: Path
    out: Path
    log: Path
    token: str = ""


    def runs(self) -> dict[str, tuple]:
        """logical day -> (run_type, state, run_id, start, end) of every run."""
        return {
            row[0]: row[1:]
            for row in self.sql(
                "SELECT to_char(logical_date, 'YYYY-MM-DD\"T\"HH24:MI'), run_type, state, run_id,"
                " start_date, end_date FROM dag_run WHERE dag_id = %s",
                DAG_ID,
            )
        }

    def next_dagrun(self) -> tuple:
        return self.sql(
            "SELECT next_dagrun, next_dagrun_create_after FROM dag WHERE dag_id = %s", DAG_ID
        )[0]

    def steady_next_dagrun(self, passes: int = 3) -> set[tuple]:
        """Every value of the next run seen, sampled twice a second, over ``passes`` more
        DAG-processor passes (each re-derives it; counted by the DAG's last_parsed_time)."""
        seen: set[tuple] = set()
        parsed: set[datetime] = set()
        deadline = time.monotonic() + 120
        while len(parsed) <= passes:
            assert time.monotonic() < deadline, f"{len(parsed)} DAG-processor passes in 120 s"
            ((next_run, create_after, last_parsed),) = self.sql(
                "SELECT next_dagrun, next_dagrun_create_after, last_parsed_time FROM dag"
                " WHERE dag_id = %s",
                DAG_ID,
            )
            seen.add((next_run, create_after))
            parsed.add(last_parsed)
            time.sleep(0.5)
        return seen


def wait_for(what: str, check: Callable[[], bool], stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(
        f"not within {timeout:.0f} s: {what}\nruns: {stack.runs()}\n"
        f"next: {stack.next_dagrun()}\nlog tail:\n{stack.log.read_text()[-4000:]}"
    )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    database = f"iot_lake_sched_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {database}")
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    port = free_port()
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=dsn.replace("postgresql://", "postgresql+psycopg2://"),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="2",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__WORKERS="1",
        # Workers report to this API server (the default is localhost:8080, ./lake up's).
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="5",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        SCHED_PROBE_START=(datetime.now(UTC) - timedelta(days=6)).date().isoformat(),
        SCHED_PROBE_OUT=str(out),
        PYTHONPATH=os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        # `airflow standalone` starts its parts as `airflow ...` commands.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    )
    log = tmp_path / "standalone.log"
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env, check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            start_new_session=True,
        )  # fmt: skip
    stack = Stack(f"http://127.0.0.1:{port}", dsn, home, out, log)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            with contextlib.suppress(OSError, ValueError):
                with urllib.request.urlopen(f"{stack.url}/auth/token", timeout=5) as response:
                    stack.token = json.load(response)["access_token"]
                if stack.api("GET", f"/api/v2/dags/{DAG_ID}")[0] == 200:
                    break
            time.sleep(1)
        yield stack
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


@pytest.mark.timeout(900)
def test_scheduler_advances_after_demo_runs_and_manual_runs(stack: Stack) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = {k: (today - timedelta(days=k)).strftime("%Y-%m-%d") for k in range(5)}
    tomorrow = today + timedelta(days=1)

    # The demo's way: a backfill of past days while the DAG is still paused.
    status, body = stack.api(
        "POST",
        "/api/v2/backfills",
        {
            "dag_id": DAG_ID,
            "from_date": f"{day[4]}T00:00:00Z",
            "to_date": f"{day[3]}T00:00:00Z",
            "max_active_runs": 1,
            "reprocess_behavior": "completed",
        },
    )
    assert status == 200, body
    # A user's way: "Trigger" in the UI for yesterday (a day the scheduler will reach).
    status, body = stack.api(
        "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": f"{day[1]}T00:00:00Z"}
    )
    assert status == 200, body
    # The DAG processor moves the next scheduled run past the backfilled day, then unpause.
    wait_for(
        f"next run {day[2]}",
        lambda: stack.next_dagrun()[0].strftime("%Y-%m-%d") == day[2],
        stack,
        timeout=120,
    )
    assert stack.api("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})[0] == 200

    def settled() -> bool:
        runs = stack.runs()
        done = all(runs.get(f"{day[k]}T00:00", (None, None))[1] == "success" for k in (1, 2, 3))
        return done and stack.next_dagrun()[0] == today

    wait_for("D-4 .. D-1 done and next run = today", settled, stack, timeout=480)
    runs = stack.runs()
    assert runs[f"{day[4]}T00:00"][:3] == (
        "backfill", "success", f"backfill__{day[3]}T00:00:00+00:00",
    )  # fmt: skip
    assert runs[f"{day[3]}T00:00"][:3] == (
        "backfill", "success", f"backfill__{day[2]}T00:00:00+00:00",
    )  # fmt: skip
    # (Airflow 3 names a run after its run_after: the day's run after the next midnight.)
    # The scheduler made D-2 itself ...
    assert runs[f"{day[2]}T00:00"][:3] == (
        "scheduled", "success", f"scheduled__{day[1]}T00:00:00+00:00",
    )  # fmt: skip
    # ... counted the manual run as D-1's run (no second run of D-1) ...
    assert runs[f"{day[1]}T00:00"][0] == "manual"
    assert len(runs) == 4, runs
    # ... and shows the next nightly run at the right time: today's, at 00:00 UTC tomorrow,
    # steadily: each DAG-processor pass derives it from the latest scheduled run (D-2) and
    # must step over the manual D-1 itself, not leave the scheduler to meet it.
    assert stack.steady_next_dagrun() == {(today, tomorrow)}

    # A manual run of a day the scheduler already ran (the UI's default logical date is a
    # time of day): it runs, and the schedule stays where it was.
    midday = f"{day[3]}T12:00:00Z"
    status, body = stack.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": midday})
    assert status == 200, body
    assert body["data_interval_start"].startswith(f"{day[3]}T00:00:00")
    assert body["data_interval_end"].startswith(f"{day[2]}T00:00:00")
    wait_for(
        "the midday manual run succeeds",
        lambda: stack.runs().get(f"{day[3]}T12:00", (None, None))[1] == "success",
        stack,
        timeout=180,
    )
    assert stack.steady_next_dagrun() == {(today, tomorrow)}

    # Each task ran on the executor for its own day, with a task log and a true duration,
    # and max_active_runs=1 held: no two runs overlapped.
    days = {p.stem: p.read_text() for p in stack.out.glob("*.day")}
    assert sorted(days.values()) == sorted([day[4], day[3], day[3], day[2], day[1]])
    logs = list((stack.home / "logs" / f"dag_id={DAG_ID}").glob("run_id=*/task_id=record/*.log"))
    assert len(logs) == 5, logs
    final = stack.runs().values()
    assert all(timedelta(0) < r[4] - r[3] < timedelta(minutes=3) for r in final)
    # max_active_runs=1 (Airflow counts backfill runs apart from the others, so a backfill
    # may run beside a manual run; each kind runs one at a time).
    for backfill in (True, False):
        spans = sorted((r[3], r[4]) for r in final if (r[0] == "backfill") == backfill)
        for (_, end), (next_start, _) in itertools.pairwise(spans):
            assert end <= next_start, spans
    # The scheduler never met an existing run at its next logical date: no "run already
    # exists; skipping dagrun creation" at all (issue 13's loop logged it about once a
    # second; with the manual run counted but not stepped over, once per DAG-processor
    # pass), and no computation of the next run, by the DAG processor or the scheduler,
    # ever landed on the manual run's day D-1.
    log = stack.log.read_text()
    nexts = re.findall(r"setting next dagrun info.*? next_dagrun='(\d{4}-\d\d-\d\d)", log)
    assert len(nexts) >= 6, f"the log does not show the next-run computations: {nexts}"
    assert day[1] not in nexts, nexts
    assert nexts[-1] == day[0], nexts
    assert log.count("run already exists") == 0, "the scheduler met an existing run"
