"""Reconciliation of one day: rows in MySQL = rows in the lake partition + rejected rows.

Each side is counted where it lives: MySQL counts its rows (``count_coffees.sql`` of
Aurora), the lake's query engine counts the staged partitions of ``coffees`` and
``coffee_rejects`` (Athena or DuckDB, through the catalog, as the audit sees them before
they are published). A mismatch is a data error (never retried) with all three numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from iot_lake.coffee import source
from iot_lake.config import LakeSettings, settings
from iot_lake.errors import ReconciliationError

LAKE_COUNT_SQL = "coffee/count_coffees.sql"


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


RunSql = Callable[[str], list[dict[str, Any]]]


def count_lake_rows(
    dt: str, lake: LakeSettings, database: str | None = None, run_sql: RunSql | None = None
) -> tuple[int, int]:
    """(rows, rejected rows) of day ``dt`` in ``database`` (default: the staging database).

    ``run_sql`` runs the rendered count (default: the lake's engine, in this process; a
    deferring task passes its Athena results, see :mod:`iot_lake.coffee.operators`).
    """
    from iot_lake.engine import get_engine
    from iot_lake.sql.render import LakeMacros, render_sql

    statement = render_sql(
        LAKE_COUNT_SQL, params={"database": database}, ds=dt, lake=LakeMacros(lake))
    run = run_sql or (lambda text: get_engine(lake).query(text).records())
    [counts] = run(statement)
    return int(counts["lake_rows"]), int(counts["rejected_rows"])


def reconcile_day(
    dt: str,
    start: datetime,
    end: datetime,
    *,
    lake: LakeSettings | None = None,
    conn_id: str | None = None,
    database: str | None = None,
    staged: list[dict[str, Any]] | None = None,
    run_sql: RunSql | None = None,
) -> Reconciliation:
    """Count the three sides of day ``dt``; raise :class:`ReconciliationError` if unbalanced.

    ``staged`` (the write step's staged versions) only goes into the failure message.
    """
    lake = lake or settings()
    lake_rows, rejected_rows = count_lake_rows(dt, lake, database, run_sql)
    result = Reconciliation(
        dt=dt,
        source_rows=source.count_source_rows(start, end, conn_id),
        lake_rows=lake_rows,
        rejected_rows=rejected_rows,
    )
    if not result.balanced:
        where = database or lake.staging_database
        message = (
            f"data check reconcile_with_mysql failed: coffees dt={dt}: MySQL has "
            f"{result.source_rows} rows for [{start}, {end}) but {where}.coffees has "
            f"{result.lake_rows} and {where}.coffee_rejects {result.rejected_rows} (sum "
            f"{result.lake_rows + result.rejected_rows}); rerun the day (rows may have been "
            "inserted or changed since the export)"
        )
        if staged:
            from iot_lake.wap.staging import StagedPartition

            message += "\nThe published partitions are unchanged. Staged data kept for " \
                "inspection:\n" + "\n".join(
                    f"  - {StagedPartition.from_dict(s).describe()}" for s in staged
                )
        raise ReconciliationError(message)
    return result
