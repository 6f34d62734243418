"""Every statement the `aws` path sends to Athena, rendered the way that path renders it.

Collected from the code that sends them, not copied: the SQL files under include/sql
(rendered as :func:`iot_lake.sql.render.render_sql` renders them, the weather write steps and
stats through :func:`iot_lake.weather.pipeline.day_select`, i.e. the SELECTs the UNLOAD
wrappers of :func:`iot_lake.engine.athena.unload_sql` carry), the check SQL common.sql's
operators build in both DAGs (replayed as on `aws`: the statement the operator asks the
recorded-results hook for is the statement it would submit), the column profiles of
every declared table (:func:`iot_lake.profiles.profile_rows`) and the dashboard's queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iot_lake.config import LakeSettings
from iot_lake.sql.render import render_sql

DAY = "2026-11-03"


@dataclass(frozen=True)
class Statement:
    name: str
    sql: str
    database: str  # the query's default database (QueryExecutionContext)


def declared_tables(lake: LakeSettings) -> list[tuple[str, dict[str, Any]]]:
    """(database, Glue TableInput) of every table the lake declares, staged copies too."""
    from iot_lake import profiles, quality
    from iot_lake.coffee import table as coffee_table
    from iot_lake.weather import tables as weather_tables

    curated = [weather_tables.table_input(name, lake) for name in weather_tables.TABLES]
    curated += [coffee_table.table_input(lake), coffee_table.rejects_table_input(lake)]
    curated += [
        quality.table_input(quality.QUALITY_TABLE, quality.QUALITY_COLUMNS, "checks"),
        quality.table_input(profiles.PROFILE_TABLE, profiles.PROFILE_COLUMNS, "profiles"),
    ]
    raw = [weather_tables.raw_table_input(name, lake) for name in weather_tables.RAW_TABLES]
    return (
        [(lake.raw_database, t) for t in raw]
        + [(lake.curated_database, t) for t in curated]
        + [(lake.staging_database, t) for t in curated]  # iot_lake.wap stages same-shaped
    )


def sql_file_statements(lake: LakeSettings) -> list[Statement]:
    """The SQL files the aws path runs, with the params the code renders them with."""
    from iot_lake.coffee.reconcile import LAKE_COUNT_SQL
    from iot_lake.sql.render import LakeMacros
    from iot_lake.weather import pipeline
    from iot_lake.weather.plan import STATS_SQL, SUMMARY_SQL

    out = [
        Statement(f"weather/{table}", pipeline.day_select(table, DAY, lake),
                  lake.curated_database)
        for table in [*pipeline.DAY_SQL, *STATS_SQL]
    ]
    for sql, params in ((SUMMARY_SQL, {}), (LAKE_COUNT_SQL, {}),
                        (LAKE_COUNT_SQL, {"database": lake.curated_database})):
        text = render_sql(sql, params=params, ds=DAY, lake=LakeMacros(lake))
        out.append(Statement(f"{sql} {params}", text, lake.curated_database))
    return out


def check_statements(lake: LakeSettings) -> list[Statement]:
    """The SQL of every check operator of both DAGs, as the operator submits it on aws."""
    from airflow.dag_processing.dagbag import DagBag

    from iot_lake.config import PROJECT_ROOT
    from iot_lake.operators.checks import _LakeCheck
    from iot_lake.operators.deferred_sql import QueryPending, RecordedResults

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}, bag.import_errors
    out = []
    for dag_id in ("weather_lake", "coffee_lake"):
        dag = bag.dags[dag_id]
        for task in dag.tasks:
            if not isinstance(task, _LakeCheck):
                continue
            context: dict[str, Any] = {"ds": DAY, "params": {}}
            task.render_template_fields(context)
            task.recorded = RecordedResults({})  # as execute_on_athena does, with no results
            try:
                task.replayed(context)
            except QueryPending as pending:
                out.append(Statement(f"{dag_id}.{task.task_id}", pending.sql,
                                     task.database or lake.curated_database))
            else:
                raise AssertionError(f"{dag_id}.{task.task_id} sent no statement")
            finally:
                task.recorded = None
    return out


def profile_statements(lake: LakeSettings, tables: list[tuple[str, dict]]) -> list[Statement]:
    """The two profile queries of every declared table (its real columns)."""
    from iot_lake import profiles, quality

    out: list[Statement] = []
    by_name = {(db, t["Name"]): t for db, t in tables}
    original = quality.get_table
    quality.get_table = lambda db, name: by_name.get((db, name))  # the declared definition
    try:
        for db, table in tables:
            if db != lake.curated_database:
                continue

            def collect(sql: str, name: str = table["Name"], db: str = db) -> list[dict]:
                out.append(Statement(f"profile {name} #{len(out)}", sql, db))
                return []

            profiles.profile_rows(db, table["Name"], DAY, run_id="r", run_sql=collect)
    finally:
        quality.get_table = original
    return out


def dashboard_statements(lake: LakeSettings) -> list[Statement]:
    """Every dashboard query, rendered with the params its page passes."""
    from iot_lake.dashboard import data

    params = {
        "database": lake.curated_database,
        "table": data.COFFEES_TABLE,
        "start": "2026-11-01",
        "end": DAY,
        "day": DAY,
        "only_failed": True,
        "limit": data.HISTORY_LIMIT,
        "profiled_database": lake.curated_database,
        "profiled_table": data.COFFEES_TABLE,
    }
    return [
        Statement(f"dashboard/{path.name}",
                  render_sql(path, params=params), lake.curated_database)
        for path in sorted(data.SQL.glob("*.sql"))
    ]


def all_statements(lake: LakeSettings) -> list[Statement]:
    tables = declared_tables(lake)
    return (
        sql_file_statements(lake)
        + check_statements(lake)
        + profile_statements(lake, tables)
        + dashboard_statements(lake)
    )
