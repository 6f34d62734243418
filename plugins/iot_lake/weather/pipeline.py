"""One observation day of the weather lake: flatten (staged, audited, published), then stats.

Which raw data a day reads needs no parameter: raw objects live under the observation
day of their own messages (``weather/day=D/``), so day D's run reads ``day=D`` whenever
it arrived, plus the ``day=undated/arrived=D/`` objects (they become rejects).

:func:`stage_day` writes the day's observations and rejects as staged versions of their
partitions ``dt = ds`` (:mod:`iot_lake.wap.steps`); the DAG's checks read them in the
staging database and :func:`iot_lake.wap.publish.publish` swaps both in. The stats are derived from
the published observations and replace their partitions at once
(:func:`iot_lake.wap.publish.write_partition`), so a rerun or a backfill of a day rewrites that
day and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from iot_lake import config
from iot_lake.config import LakeSettings
from iot_lake.sql.render import LakeMacros, render_sql
from iot_lake.wap import steps as write_steps
from iot_lake.wap.publish import publish, write_partition
from iot_lake.weather import bounds
from iot_lake.weather.plan import STATS_SQL, SUMMARY_SQL, WRITE_STEPS

log = logging.getLogger(__name__)

DAY_SQL = {table: sql for step in WRITE_STEPS for table, sql in step.items()}


def flatten_params() -> dict[str, Any]:
    """The ``params`` of the flatten's SQL files (the bounds, from their one place)."""
    return bounds.sql_params()


def day_select(
    table: str,
    ds: str,
    settings: LakeSettings | None = None,
    raw_objects: list[dict[str, Any]] | None = None,
) -> str:
    """The rendered Athena SELECT that yields table ``table``'s rows of day ``ds``.

    ``raw_objects`` (:func:`iot_lake.weather.reconcile.raw_snapshot`) limits the raw
    objects read to exactly those.
    """
    lake = settings or config.settings()
    sql = DAY_SQL.get(table) or STATS_SQL.get(table)
    if sql is None:
        raise ValueError(f"unknown weather table {table!r}; one of {sorted(DAY_SQL | STATS_SQL)}")
    params = flatten_params() if table in DAY_SQL else {}
    extra = {} if raw_objects is None else {"raw_objects": raw_objects}
    return render_sql(sql, params=params, ds=ds, lake=LakeMacros(lake), **extra)


def stage_day(ds: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """Write partition ``dt = ds`` of weather_observations and weather_rejects aside.

    The steps of :data:`iot_lake.weather.plan.WRITE_STEPS`, run in this process (the
    DAG's ``write_observations`` runs the same steps and defers on `aws`): the raw lines
    are read and typed once (``weather_typed_records``, an intermediate), both tables are
    written from that pass. Returns the staged outputs (rejects first, for
    :func:`iot_lake.wap.publish.publish`), the intermediate, the summary's figures (rows,
    observations, rejects, lines_read, duplicates), which the DAG branches on and the
    reconciliation adds up, and ``raw_objects``: the raw objects listed first and then
    read, exactly those (:func:`iot_lake.weather.reconcile.raw_snapshot`); the records
    the ingestion kept under ``errors/`` on that day are rejects too
    (:mod:`iot_lake.weather.ingest_errors`: ``ingest_errors``, ``ingest_error_objects``).
    """
    # here, not at the top: the audit's module imports Airflow (its errors), the
    # benchmarks that import this one must not
    from iot_lake.weather import ingest_errors
    from iot_lake.weather.reconcile import raw_snapshot

    lake = settings or config.settings()
    objects = raw_snapshot(ds, lake)
    errors = ingest_errors.error_objects(ds, lake)
    steps = [
        {table: day_select(table, ds, lake, objects) for table in step} for step in WRITE_STEPS
    ]
    summary = render_sql(SUMMARY_SQL, ds=ds, lake=LakeMacros(lake))
    written = {**write_steps.stage_steps(steps, [ds], summary, lake), "raw_objects": objects}
    written = ingest_errors.add_to_staged_rejects(written, errors, lake)
    if written["rejects"]:
        log.warning("day %s: %s raw records rejected (staged: %s)",
                    ds, written["rejects"], written["staged"][0]["location"])
    return written


def publish_day(
    written: Mapping[str, Any], settings: LakeSettings | None = None
) -> list[dict[str, Any]]:
    """Publish a staged day (rejects, then observations), then retire its typed pass."""
    return publish(written, settings)


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
