"""Reconciliation of one day: rows in MySQL = rows in the lake partition + rejected rows.

Each side is counted where it lives: MySQL counts its rows (``count_coffees.sql``), the
lake's query engine counts the registered partition (Athena or DuckDB, through the
catalog, as a reader of the table would see it), and the rejects file is counted line by
line. A mismatch fails with all three numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from iot_lake import storage
from iot_lake.coffee import export, source
from iot_lake.config import LakeSettings, settings

LAKE_COUNT_SQL = "coffee/count_coffees.sql"


class ReconciliationError(AssertionError):
    """The day's rows do not add up; the message has the three counts."""


@dataclass(frozen=True)
class Reconciliation:
    dt: str
    source_rows: int
    lake_rows: int
    rejected_rows: int

    @property
    def balanced(self) -> bool:
        return self.source_rows == self.lake_rows + self.rejected_rows

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "balanced": self.balanced}


def count_lake_rows(dt: str, lake: LakeSettings) -> int:
    """Rows of partition ``dt`` of the catalogued table, counted by the lake's engine."""
    from iot_lake.engine import run_query

    rows = run_query(LAKE_COUNT_SQL, ds=dt, settings=lake, database=lake.curated_database)
    return int(rows[0][0])


def count_rejected_rows(dt: str, lake: LakeSettings) -> int:
    """Lines of the day's rejects file (0 when there is none)."""
    uri = storage.join(export.rejects_uri(lake, dt), export.REJECTS_FILE)
    fs, path = storage.filesystem(uri)
    if not fs.exists(path):
        return 0
    with fs.open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def reconcile_day(
    dt: str,
    start: datetime,
    end: datetime,
    *,
    lake: LakeSettings | None = None,
    conn_id: str | None = None,
) -> Reconciliation:
    """Count the three sides of day ``dt``; raise :class:`ReconciliationError` if unbalanced."""
    lake = lake or settings()
    result = Reconciliation(
        dt=dt,
        source_rows=source.count_source_rows(start, end, conn_id),
        lake_rows=count_lake_rows(dt, lake),
        rejected_rows=count_rejected_rows(dt, lake),
    )
    if not result.balanced:
        raise ReconciliationError(
            f"coffees dt={dt}: MySQL has {result.source_rows} rows for "
            f"[{start}, {end}) but the lake partition has {result.lake_rows} and the "
            f"rejects file {result.rejected_rows} (sum {result.lake_rows + result.rejected_rows}"
            "); rerun the day's export (rows may have been inserted or changed since)"
        )
    return result
