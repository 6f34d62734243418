r"""
### weather_lake: raw station messages -> daily Parquet (+ rejects) -> audit -> publish -> stats

```
wait_for_day_end --> register_tables --> write_observations
--> audit_observations: has_observations --> check_keys_and_ranges
                                         \-> check_row_count
                        check_reconciliation
                        check_day_not_shrunk
--> publish_observations --> stats_by_station_day
                         \-> stats_by_condition_day
                         \-> profile_observations
```

A run's day `D` is its logical date (UTC); it replaces partition `dt=D` of each table it
writes. The param `accept_shrink` publishes a day that lost most of its rows on purpose.

How it works, rerunning and backfilling a day: `docs/weather_lake.md`.
Why it is built this way: `docs/decisions.md`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import (
    Asset,
    Param,
    TaskGroup,
    TriggerRule,
    chain,
    dag,
    task,
)

from iot_lake.dag_defaults import DEFAULT_ARGS, TEMPLATE_SEARCHPATH, run_day
from iot_lake.operators.checks import (
    LakeColumnCheckOperator,
    LakeDayShrinkCheckOperator,
    LakeTableCheckOperator,
)
from iot_lake.operators.profile import LakeProfileOperator
from iot_lake.operators.write import LakeWritePartitionOperator
from iot_lake.sql.render import LAKE
from iot_lake.timetables import DailyTimetable
from iot_lake.weather import bounds, plan
from iot_lake.weather.operators import RawDayWriteOperator

# Assets are named <database>.<table>; a URI with a scheme would make Airflow load every
# provider's URI handlers (boto3 included) while parsing this file.
RAW_WEATHER = Asset(name="iot_lake_raw.weather")
OBSERVATIONS = Asset(name="iot_lake.weather_observations")
REJECTS = Asset(name="iot_lake.weather_rejects")
STATS_BY_STATION = Asset(name="iot_lake.weather_stats_by_station_day")
STATS_BY_CONDITION = Asset(name="iot_lake.weather_stats_by_condition_day")

# The audit reads the staged partition (iot_lake.wap), never the published one.
STAGED_OBSERVATIONS = "{{ lake.staging_database }}.weather_observations"
WRITE = "write_observations"
# The day is the run's logical date (see iot_lake.dag_defaults.run_day).
DAY = "dt = '{{ ds }}'"
ACCEPT_SHRINK = (
    "publish the day even if it has lost all or most (setting max_day_shrink) of the "
    "rows of its published version: set on a manual rerun when the smaller day is right"
)


@dag(
    dag_id="weather_lake",
    schedule=DailyTimetable(),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["iot-lake", "weather", "quality"],
    doc_md=__doc__,
    template_searchpath=TEMPLATE_SEARCHPATH,
    user_defined_macros={"lake": LAKE},
    params={"accept_shrink": Param(False, type="boolean", description=ACCEPT_SHRINK)},
)
def weather_lake() -> None:
    # Deferred in the triggerer (no worker slot) until day D's raw data is complete.
    wait_for_day_end = DateTimeSensorAsync(
        task_id="wait_for_day_end", target_time="{{ lake.day_closes(ds) }}"
    )

    @task
    def register_tables() -> list[str]:
        from iot_lake.weather.tables import ensure_tables

        return ensure_tables()

    # ---- write: the day's observations and rejects, staged (not visible to readers);
    # the raw lines are typed once, then both tables are written from that pass
    write_observations = RawDayWriteOperator(
        task_id=WRITE,
        steps=plan.WRITE_STEPS,
        summary_sql=plan.SUMMARY_SQL,
        params=bounds.sql_params(),
        inlets=[RAW_WEATHER],
    )

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def has_observations(written: dict[str, Any]) -> bool:
        return int(written["observations"]) > 0

    # ---- audit: every check reads the staged partitions; any failure stops the publish
    written = write_observations.output
    with TaskGroup("audit_observations") as audit_observations:
        # A day without observations skips the per-row checks; reconciliation and the
        # comparison with the published day always run.
        day_has_data = has_observations(written)

        @task  # a mismatch is a data error (no retry); listing errors retry
        def check_reconciliation(
            written: dict[str, Any], ds: str | None = None, task: Any = None
        ) -> dict[str, Any]:
            from iot_lake.weather.reconcile import reconcile_task

            return reconcile_task(run_day(ds), task, written=written)

        row_checks = [
            LakeColumnCheckOperator(
                task_id="check_keys_and_ranges",
                table=STAGED_OBSERVATIONS,
                partition_clause=DAY,
                column_mapping={
                    "weather_station": {"null_check": {"equal_to": 0}},
                    "observed_at": {"null_check": {"equal_to": 0}},
                    **bounds.column_mapping(),
                },
                staged_by=WRITE,
            ),
            LakeTableCheckOperator(
                task_id="check_row_count",
                table=STAGED_OBSERVATIONS,
                partition_clause=DAY,
                checks={
                    "row_count_positive": {"check_statement": "COUNT(*) > 0"},
                    "no_nan_or_infinity": {"check_statement": bounds.non_finite_statement()},
                },
                staged_by=WRITE,
            ),
        ]
        day_has_data >> row_checks
        check_reconciliation(written)
        LakeDayShrinkCheckOperator(
            task_id="check_day_not_shrunk", table="weather_observations", staged_by=WRITE
        )

    # ---- publish: rejects and observations together (a day without data publishes empty)
    @task(outlets=[OBSERVATIONS, REJECTS], trigger_rule=TriggerRule.NONE_FAILED)
    def publish_observations(written: dict[str, Any]) -> list[dict[str, Any]]:
        from iot_lake.weather.pipeline import publish_day

        return publish_day(written)

    # ---- derived from the published day (deferrable Athena UNLOAD on aws)
    stats_by_station_day = LakeWritePartitionOperator(
        task_id="stats_by_station_day",
        sql="weather/stats_by_station_day.sql",
        table="weather_stats_by_station_day",
        inlets=[OBSERVATIONS],
        outlets=[STATS_BY_STATION],
    )
    stats_by_condition_day = LakeWritePartitionOperator(
        task_id="stats_by_condition_day",
        sql="weather/stats_by_condition_day.sql",
        table="weather_stats_by_condition_day",
        inlets=[OBSERVATIONS],
        outlets=[STATS_BY_CONDITION],
    )

    profile_observations = LakeProfileOperator(
        task_id="profile_observations", table="weather_observations", inlets=[OBSERVATIONS]
    )

    published = publish_observations(written)
    chain(wait_for_day_end, register_tables(), write_observations, audit_observations, published)
    published >> [stats_by_station_day, stats_by_condition_day, profile_observations]


weather_lake()
