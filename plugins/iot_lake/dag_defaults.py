"""Defaults that every iot-lake DAG shares, defined once and enforced by the DAG tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from iot_lake.config import SQL_DIR

OWNER = "iot-lake"

DEFAULT_ARGS: dict[str, object] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
}

ALLOWED_TAGS = frozenset({"iot-lake", "weather", "coffee", "setup", "quality", "ingest"})

TEMPLATE_SEARCHPATH = [str(SQL_DIR)]
"""SQL files are referenced relative to include/sql, e.g. ``weather/flatten_observations.sql``."""


def day_of(data_interval_start: datetime | None) -> str:
    """The day a daily run owns: its data interval's start, as ``YYYY-MM-DD`` in UTC."""
    if data_interval_start is None:
        raise ValueError("a daily run needs a data interval (was the DAG scheduled?)")
    return data_interval_start.astimezone(UTC).date().isoformat()
