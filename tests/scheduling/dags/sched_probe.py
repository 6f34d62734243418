"""A daily DAG like the project's (DailyTimetable, catchup, max_active_runs=1) whose one
task records which day it processed: the scheduler test drives it through a real stack."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import dag, task

from iot_lake.timetables import DailyTimetable


@dag(
    dag_id="sched_probe",
    schedule=DailyTimetable(),
    start_date=datetime.fromisoformat(os.environ["SCHED_PROBE_START"]).replace(tzinfo=UTC),
    catchup=True,
    max_active_runs=1,
    default_args={"retries": 0},
)
def sched_probe() -> None:
    @task
    def record(ds: str | None = None, run_id: str | None = None) -> str:
        out = Path(os.environ["SCHED_PROBE_OUT"])
        (out / f"{run_id}.day").write_text(str(ds))
        return str(ds)

    record()


sched_probe()
