"""
### weather_lake: raw station messages -> daily Parquet (+ rejects) -> checks -> daily stats

Every day `D` = the run's logical date (daily data intervals in UTC; `catchup=True` on
purpose: each run owns exactly one observation day, so catching up or backfilling a range
rebuilds those days and nothing else). Raw objects live under the observation day of
their own messages (`weather/day=D/`, Firehose dynamic partitioning), so a day's data is
found wherever and whenever it arrived; no crawl, no late-data window.

1. **wait_for_day_end**: deferrable (`DateTimeSensorAsync`, no worker slot while waiting)
   until `D+1 00:00 UTC + arrival_grace_minutes` (default 10, longer than Firehose's
   300 s buffer); a past day passes at once.
2. **register_tables**: the raw tables (declared with partition projection on `day`,
   `include/glue/tables/raw/`) and the curated tables exist in the catalog.
3. **write_observations**: lists `day=D` plus `day=undated/arrived=D/` (the undated
   objects that arrived on D; key, size, ETag: recorded in its result for the audit);
   `include/sql/weather/typed_records.sql` reads exactly those once and types every record with
   `try`/`try_cast` (no record can fail the day); from that pass
   `flatten_rejects.sql` and `flatten_observations.sql` remove duplicates (earliest
   arrival, then object key, then record text), unnest sky-cover layers and
   present-weather groups, and write partition `dt=D` of `weather_rejects` (every record
   that cannot be typed or is implausible, with its reason, and every record the
   ingestion kept under `errors/` that day) and `weather_observations`
   **aside**: staged versions registered in `<curated_database>_staging`
   (`plugins/iot_lake/wap.py`); `staged_day_summary.sql` counts them. Readers of the
   curated tables still see the old day. On `aws` each Athena query is waited for in
   the triggerer (deferrable; no worker slot).
4. **audit_observations** (every check reads the *staged* day): keys not null, every
   measured column within its physical bounds (`plugins/iot_lake/weather/bounds.py`,
   the same bounds the flatten rejects by), no NaN/±Infinity, row count > 0 (skipped
   for a day without observations); always the reconciliation against the raw objects
   the write read (raw records + ingestion errors = staged observations + staged rejects
   + duplicates removed) and **check_day_not_shrunk**: a new version that lost all, or
   more than `max_day_shrink` (default 0.5), of the published day's rows fails unless
   the run is triggered with `accept_shrink` = true (`iot_lake.shrink`). A failure is a
   data error (no retry); its message names the check, the offending values and where
   the staged data is kept; the published day is untouched.
5. **publish_observations**: the audited rejects and observations are swapped in
   together (directory swap on `local`, Glue partition swap on `aws`); a replaced
   version stays readable for `superseded_grace_hours` (default 24), then `lake_setup`
   or the next publish deletes it.
6. **stats_by_station_day / stats_by_condition_day** from the published day (deferrable
   Athena UNLOAD on `aws`: no worker slot while Athena runs); **profile_observations**:
   column statistics of the day into `column_profiles` (deferrable on `aws` too).

Rerun a day: `airflow tasks clear weather_lake -s D -e D`, or `airflow dags test
weather_lake D`.
Backfill: `airflow backfill create --dag-id weather_lake --from-date D1 --to-date D2
--reprocess-behavior completed`. See `docs/weather_lake.md`.
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
