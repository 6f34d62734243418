"""Defaults that every iot-lake DAG shares, defined once and enforced by the DAG tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from iot_lake.config import SQL_DIR
from iot_lake.notifier import FailureNotifier

OWNER = "iot-lake"

DEFAULT_ARGS: dict[str, object] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    # A task that fails for good (checks fail at once, others after their retries) tells
    # people: SNS or the dashboard's Incidents page, per the iot_lake_alerts connection.
    "on_failure_callback": [FailureNotifier()],
}

ALLOWED_TAGS = frozenset({"iot-lake", "weather", "coffee", "setup", "quality", "ingest"})

TEMPLATE_SEARCHPATH = [str(SQL_DIR)]
"""SQL files are referenced relative to include/sql, e.g. ``weather/flatten_observations.sql``."""


def run_day(ds: str | None) -> str:
    """The day a daily run owns: its logical date (``ds``), the same for every run type.

    With daily data intervals a scheduled or backfill run's logical date is the start of
    the day it covers (the nightly run for D starts once D has ended), and a manual run
    (``airflow dags test DAG D``, a trigger with logical date D) names D itself, so one
    day is always one logical date: reruns, clears and backfills all find it. The DAGs'
    ``iot_lake.timetables.DailyTimetable`` gives the scheduler the same view: a manual run
    of D covers [D, D+1) and counts as D's run, so the schedule moves on to D+1.
    """
    if not ds:
        raise ValueError("this run has no logical date: trigger it with the day to process")
    return ds


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """``[day 00:00, next day 00:00)`` in UTC."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return start, start + timedelta(days=1)
