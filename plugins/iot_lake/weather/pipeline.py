"""One observation day of the weather lake: flatten (observations + rejects), then stats.

Each step renders its SQL file for day ``ds`` and writes the result: either to target
locations given by the caller (the write -> audit -> publish mechanism stages a day
there, checks it, then swaps it in) or straight into the ``dt = ds`` partitions
(:func:`iot_lake.engine.write_partition`), so a rerun or a backfill of a day rewrites
that day and nothing else.

Which raw data a day reads needs no parameter: raw objects live under the observation
day of their own messages (``weather/day=D/``), so day D's run reads ``day=D`` whenever
it arrived, plus the ``day=undated`` objects that arrived on D (they become rejects).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from iot_lake import config
from iot_lake.config import LakeSettings
from iot_lake.engine import export_query, render_sql, run_query, write_partition
from iot_lake.operators.macros import LakeMacros
from iot_lake.weather import bounds
from iot_lake.weather.tables import (
    OBSERVATIONS,
    REJECTS,
    STATS_BY_CONDITION,
    STATS_BY_STATION,
)

log = logging.getLogger(__name__)

FLATTEN_SQL = "weather/flatten_observations.sql"
REJECTS_SQL = "weather/flatten_rejects.sql"
OUTCOMES_SQL = "weather/count_flatten_outcomes.sql"
COUNT_SQL = "weather/count_observations_day.sql"
COUNT_REJECTS_SQL = "weather/count_rejects_day.sql"
DAY_SQL = {OBSERVATIONS: FLATTEN_SQL, REJECTS: REJECTS_SQL}
"""The tables one flatten writes, each from its SQL file."""
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


def write_day(
    ds: str,
    targets: Mapping[str, str] | None = None,
    settings: LakeSettings | None = None,
) -> dict[str, Any]:
    """Write day ``ds``'s observations and rejects; what was written, per table.

    ``targets`` maps ``weather_observations`` and ``weather_rejects`` to locations to
    write Parquet files under (nothing is published: the caller audits and swaps them
    in). Without ``targets`` both partitions ``dt = ds`` are replaced directly.
    """
    lake = settings or config.settings()
    written: dict[str, Any] = {}
    for table in DAY_SQL:
        select = day_select(table, ds, lake)
        if targets is not None:
            written[table] = export_query(select, targets[table], settings=lake)
        else:
            written[table] = write_partition(
                select, lake.curated_database, table, [ds], settings=lake
            )
    return written


def flatten_outcomes(ds: str, settings: LakeSettings | None = None) -> dict[str, int]:
    """Lines the flatten of ``ds`` reads, rejects, removes as duplicates and keeps."""
    lake = settings or config.settings()
    [row] = run_query(OUTCOMES_SQL, params=flatten_params(), ds=ds, settings=lake)
    names = ("lines_read", "rejected", "duplicates", "observations")
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def flatten_day(ds: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """Replace partition ``dt = ds`` of weather_observations and weather_rejects.

    Returns the figures the DAG logs and branches on: rows and distinct observations
    published, rejects written.
    """
    lake = settings or config.settings()
    written = write_day(ds, settings=lake)
    row_count, observation_count = run_query(COUNT_SQL, ds=ds, settings=lake)[0]
    [(rejects,)] = run_query(COUNT_REJECTS_SQL, ds=ds, settings=lake)
    if int(rejects):
        log.warning("day %s: %s raw records rejected (see %s.%s dt=%s)",
                    ds, rejects, lake.curated_database, REJECTS, ds)
    return {
        "table": f"{lake.curated_database}.{OBSERVATIONS}",
        "dt": ds,
        "location": written[OBSERVATIONS].get("location"),
        "rows": int(row_count),
        "observations": int(observation_count),
        "rejects": int(rejects),
    }


def stats_day(table: str, ds: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """Replace partition ``dt = ds`` of one stats table from weather_observations."""
    lake = settings or config.settings()
    if table not in STATS_SQL:
        raise ValueError(f"unknown weather stats table {table!r}; one of {sorted(STATS_SQL)}")
    select = day_select(table, ds, lake)
    result = write_partition(select, lake.curated_database, table, [ds], settings=lake)
    return {"table": f"{lake.curated_database}.{table}", "dt": ds, **result}
