"""One observation day of the weather lake: flatten (staged, audited, published), then stats.

Which raw data a day reads needs no parameter: raw objects live under the observation
day of their own messages (``weather/day=D/``), so day D's run reads ``day=D`` whenever
it arrived, plus the ``day=undated`` objects that arrived on D (they become rejects).

:func:`stage_day` writes the day's observations and rejects as staged versions of their
partitions ``dt = ds`` (:mod:`iot_lake.wap`); the DAG's checks read them in the staging
database and :func:`iot_lake.wap.publish_all` swaps both in. The stats are derived from
the published observations and replace their partitions at once
(:func:`iot_lake.engine.write_partition`), so a rerun or a backfill of a day rewrites that
day and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from iot_lake import config, wap
from iot_lake.config import LakeSettings
from iot_lake.engine import render_sql, run_query, stage_partition, write_partition
from iot_lake.operators.macros import LakeMacros
from iot_lake.weather import bounds
from iot_lake.weather.tables import (
    OBSERVATIONS,
    REJECTS,
    STATS_BY_CONDITION,
    STATS_BY_STATION,
    TYPED,
)

log = logging.getLogger(__name__)

TYPED_SQL = "weather/typed_records.sql"
FLATTEN_SQL = "weather/flatten_observations.sql"
REJECTS_SQL = "weather/flatten_rejects.sql"
OUTCOMES_SQL = "weather/count_flatten_outcomes.sql"
COUNT_SQL = "weather/count_observations_day.sql"
COUNT_REJECTS_SQL = "weather/count_rejects_day.sql"
DAY_SQL = {TYPED: TYPED_SQL, OBSERVATIONS: FLATTEN_SQL, REJECTS: REJECTS_SQL}
"""The tables one flatten writes, in this order, each from its SQL file: the typed pass
over the raw lines first (staged only), then the two outputs read from it."""
STATS_SQL = {
    STATS_BY_STATION: "weather/stats_by_station_day.sql",
    STATS_BY_CONDITION: "weather/stats_by_condition_day.sql",
}


def flatten_params() -> dict[str, Any]:
    """The ``params`` of the flatten's SQL files (the bounds, from their one place)."""
    return bounds.sql_params()


def day_select(table: str, ds: str, settings: LakeSettings | None = None) -> str:
    """The rendered Athena SELECT that yields table ``table``'s rows of day ``ds``."""
    lake = settings or config.settings()
    sql = DAY_SQL.get(table) or STATS_SQL.get(table)
    if sql is None:
        raise ValueError(f"unknown weather table {table!r}; one of {sorted(DAY_SQL | STATS_SQL)}")
    params = flatten_params() if table in DAY_SQL else {}
    return render_sql(sql, params=params, ds=ds, lake=LakeMacros(lake))


def stage_day(ds: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """Write partition ``dt = ds`` of weather_observations and weather_rejects aside.

    The raw lines are read and typed once (``weather_typed_records``, staged only); both
    tables are written from that pass. Returns the staged versions to publish (rejects
    first, for :func:`iot_lake.wap.publish_all`) and the staged row, observation and
    reject counts (what the DAG branches on and the
    reconciliation adds up).
    """
    lake = settings or config.settings()
    # One pass over the raw gzip JSON: every line read and typed once, staged as
    # weather_typed_records; observations and rejects are then read from that Parquet.
    typed = stage_partition(day_select(TYPED, ds, lake), lake.curated_database, TYPED, [ds],
                            settings=lake)
    log.info("day %s: %s raw lines typed once (%s)", ds, typed.rows, typed.describe())
    staged = [
        stage_partition(day_select(table, ds, lake), lake.curated_database, table, [ds],
                        settings=lake)
        for table in (REJECTS, OBSERVATIONS)
    ]
    counts = staged_counts(ds, lake)
    if counts["rejects"]:
        log.warning("day %s: %s raw records rejected (staged: %s)",
                    ds, counts["rejects"], staged[0].describe())
    return {
        "table": f"{lake.curated_database}.{OBSERVATIONS}",
        "dt": ds,
        **counts,
        "staged": [version.as_dict() for version in staged],
        "typed": typed.as_dict(),
    }


def staged_counts(ds: str, settings: LakeSettings | None = None) -> dict[str, int]:
    """Rows and distinct observations of the staged observations, staged rejects."""
    lake = settings or config.settings()
    [(row_count, observation_count)] = run_query(COUNT_SQL, ds=ds, settings=lake)
    [(rejects,)] = run_query(COUNT_REJECTS_SQL, ds=ds, settings=lake)
    return {"rows": int(row_count), "observations": int(observation_count),
            "rejects": int(rejects)}


def flatten_outcomes(ds: str, settings: LakeSettings | None = None) -> dict[str, int]:
    """Lines the flatten of ``ds`` reads, rejects, removes as duplicates and keeps."""
    lake = settings or config.settings()
    [row] = run_query(OUTCOMES_SQL, params=flatten_params(), ds=ds, settings=lake)
    names = ("lines_read", "rejected", "duplicates", "observations")
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def publish_day(
    written: Mapping[str, Any], settings: LakeSettings | None = None
) -> list[dict[str, Any]]:
    """Publish a staged day (rejects, then observations), then retire its typed pass.

    The typed intermediate stays staged while the day is audited (the reconciliation
    reads its outcome counts; a failed audit keeps it for inspection); once the day is
    published nothing needs it, and its files expire after the grace period.
    """
    lake = settings or config.settings()
    published = wap.publish_all(list(written["staged"]), lake)
    if written.get("typed"):
        wap.retire_staged(written["typed"], lake)
        wap.expire_superseded(lake, tables=[TYPED])
    return published


def flatten_day(ds: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """Stage and publish partition ``dt = ds`` at once, unaudited (tests and benchmarks)."""
    lake = settings or config.settings()
    result = stage_day(ds, lake)
    published = publish_day(result, lake)
    return {**result, "location": published[-1]["location"] if published else None}


def stats_day(table: str, ds: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """Replace partition ``dt = ds`` of one stats table from weather_observations."""
    lake = settings or config.settings()
    if table not in STATS_SQL:
        raise ValueError(f"unknown weather stats table {table!r}; one of {sorted(STATS_SQL)}")
    select = day_select(table, ds, lake)
    result = write_partition(select, lake.curated_database, table, [ds], settings=lake)
    return {"table": f"{lake.curated_database}.{table}", "dt": ds, **result}
