"""One observation day of the weather lake: flatten (staged, audited, published), then stats.

:func:`stage_day` writes the day's observations as a staged version of partition
``dt = ds`` (:mod:`iot_lake.wap`); the DAG's checks read it in the staging database and
:func:`iot_lake.wap.publish_all` swaps it in. The stats are derived from the published
observations and replace their partitions at once (:func:`iot_lake.engine.write_partition`),
so a rerun or a backfill of a day rewrites that day and nothing else.
"""

from __future__ import annotations

import logging
from typing import Any

from iot_lake import config, wap
from iot_lake.catalog import get_catalog
from iot_lake.config import LakeSettings
from iot_lake.crawler import RAW_TABLE
from iot_lake.engine import render_sql, run_query, stage_partition, write_partition
from iot_lake.operators.macros import LakeMacros
from iot_lake.weather.tables import OBSERVATIONS, STATS_BY_CONDITION, STATS_BY_STATION

log = logging.getLogger(__name__)

FLATTEN_SQL = "weather/flatten_observations.sql"
COUNT_SQL = "weather/count_observations_day.sql"
STATS_SQL = {
    STATS_BY_STATION: "weather/stats_by_station_day.sql",
    STATS_BY_CONDITION: "weather/stats_by_condition_day.sql",
}
DEFAULT_LATE_DAYS = 1


def _publish(
    sql_file: str, table: str, ds: str, params: dict[str, Any], lake: LakeSettings
) -> dict[str, Any]:
    select = render_sql(sql_file, params=params, ds=ds, lake=LakeMacros(lake))
    result = write_partition(select, lake.curated_database, table, [ds], settings=lake)
    return {"table": f"{lake.curated_database}.{table}", "dt": ds, **result}


def stage_day(
    ds: str, late_days: int = DEFAULT_LATE_DAYS, settings: LakeSettings | None = None
) -> dict[str, Any]:
    """Write partition ``dt = ds`` of weather_observations aside, from the raw data.

    ``late_days`` is how many arrival days before and after ``ds`` may hold observations
    of day ``ds`` (Firehose partitions by arrival hour). Returns the staged versions
    (for the publish step) and the staged row and observation counts.
    """
    lake = settings or config.settings()
    table = f"{lake.curated_database}.{OBSERVATIONS}"
    if get_catalog(lake).get_table(lake.raw_database, RAW_TABLE) is None:
        log.warning("no raw table %s.%s yet (nothing crawled): nothing to flatten for %s",
                    lake.raw_database, RAW_TABLE, ds)
        return {"table": table, "dt": ds, "rows": 0, "observations": 0, "staged": []}
    select = render_sql(
        FLATTEN_SQL, params={"late_days": int(late_days)}, ds=ds, lake=LakeMacros(lake)
    )
    staged = stage_partition(select, lake.curated_database, OBSERVATIONS, [ds], settings=lake)
    row_count, observation_count = run_query(COUNT_SQL, ds=ds, settings=lake)[0]
    return {"table": table, "dt": ds, "rows": int(row_count),
            "observations": int(observation_count), "staged": [staged.as_dict()]}


def flatten_day(
    ds: str, late_days: int = DEFAULT_LATE_DAYS, settings: LakeSettings | None = None
) -> dict[str, Any]:
    """Stage and publish partition ``dt = ds`` at once, unaudited (tests and benchmarks)."""
    lake = settings or config.settings()
    result = stage_day(ds, late_days, lake)
    published = wap.publish_all(result["staged"], lake)
    return {**result, "location": published[0]["location"] if published else None}


def stats_day(table: str, ds: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """Replace partition ``dt = ds`` of one stats table from weather_observations."""
    lake = settings or config.settings()
    if table not in STATS_SQL:
        raise ValueError(f"unknown weather stats table {table!r}; one of {sorted(STATS_SQL)}")
    return _publish(STATS_SQL[table], table, ds, {}, lake)
