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
3. **flatten_observations**: `include/sql/weather/flatten_observations.sql` and
   `flatten_rejects.sql` read `day=D` plus the `day=undated` objects that arrived on D,
   type every record with `try`/`try_cast` (no record can fail the day), remove
   duplicates (earliest arrival, then object key, then record text), unnest sky-cover
   layers and present-weather groups, and replace partition `dt=D` of
   `iot_lake.weather_observations` and `iot_lake.weather_rejects` (every record that
   cannot be typed or is implausible, with its reason).
4. **has_observations**: a day without raw observations stops here.
5. **checks**: keys not null, every measured column within its physical bounds
   (`plugins/iot_lake/weather/bounds.py`, the same bounds the flatten rejects by), no
   NaN/±Infinity, row count > 0, and reconciliation against the raw objects themselves
   (raw records = observations + rejects + duplicates removed). Data errors fail at once.
6. **stats_by_station_day / stats_by_condition_day**, **profile_observations**.

Rerun a day: `airflow tasks clear weather_lake -s D -e D`.
Backfill: `airflow backfill create --dag-id weather_lake --from-date D1 --to-date D2
--reprocess-behavior completed`. See `docs/weather_lake.md`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Asset, CronDataIntervalTimetable, chain_linear, dag, task

from iot_lake.dag_defaults import DEFAULT_ARGS, TEMPLATE_SEARCHPATH, run_day
from iot_lake.operators.checks import (
    LakeColumnCheckOperator,
    LakeTableCheckOperator,
)
from iot_lake.operators.macros import LAKE
from iot_lake.weather import bounds

# Assets are named <database>.<table>; a URI with a scheme would make Airflow load every
# provider's URI handlers (boto3 included) while parsing this file.
RAW_WEATHER = Asset(name="iot_lake_raw.weather")
OBSERVATIONS = Asset(name="iot_lake.weather_observations")
REJECTS = Asset(name="iot_lake.weather_rejects")
STATS_BY_STATION = Asset(name="iot_lake.weather_stats_by_station_day")
STATS_BY_CONDITION = Asset(name="iot_lake.weather_stats_by_condition_day")

OBSERVATIONS_TABLE = "{{ lake.curated_database }}.weather_observations"
# The day is the run's logical date (see iot_lake.dag_defaults.run_day).
DAY = "dt = '{{ ds }}'"


@dag(
    dag_id="weather_lake",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["iot-lake", "weather", "quality"],
    doc_md=__doc__,
    template_searchpath=TEMPLATE_SEARCHPATH,
    user_defined_macros={"lake": LAKE},
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

    @task(inlets=[RAW_WEATHER], outlets=[OBSERVATIONS, REJECTS])
    def flatten_observations(ds: str | None = None) -> dict[str, Any]:
        from iot_lake.weather.pipeline import flatten_day

        return flatten_day(run_day(ds))

    @task.short_circuit(ignore_downstream_trigger_rules=True)
    def has_observations(flattened: dict[str, Any]) -> bool:
        return int(flattened["observations"]) > 0

    # ---- checks: any failure fails the run and blocks the stats
    keys_and_ranges = LakeColumnCheckOperator(
        task_id="check_keys_and_ranges",
        table=OBSERVATIONS_TABLE,
        partition_clause=DAY,
        column_mapping={
            "weather_station": {"null_check": {"equal_to": 0}},
            "observed_at": {"null_check": {"equal_to": 0}},
            **bounds.column_mapping(),
        },
        retry_on_failure=False,  # bad data does not get better on retry
    )
    row_count = LakeTableCheckOperator(
        task_id="check_row_count",
        table=OBSERVATIONS_TABLE,
        partition_clause=DAY,
        checks={
            "row_count_positive": {"check_statement": "COUNT(*) > 0"},
            "no_nan_or_infinity": {"check_statement": bounds.non_finite_statement()},
        },
        retry_on_failure=False,  # bad data does not get better on retry
    )

    @task  # a mismatch raises AirflowFailException (no retry); listing errors retry
    def check_reconciliation(ds: str | None = None, task: Any = None) -> dict[str, Any]:
        from iot_lake.weather.reconcile import reconcile_task

        return reconcile_task(run_day(ds), task)

    reconciliation = check_reconciliation()

    @task(inlets=[OBSERVATIONS], outlets=[STATS_BY_STATION])
    def stats_by_station_day(ds: str | None = None) -> dict[str, Any]:
        from iot_lake.weather.pipeline import stats_day
        from iot_lake.weather.tables import STATS_BY_STATION as TABLE

        return stats_day(TABLE, run_day(ds))

    @task(inlets=[OBSERVATIONS], outlets=[STATS_BY_CONDITION])
    def stats_by_condition_day(ds: str | None = None) -> dict[str, Any]:
        from iot_lake.weather.pipeline import stats_day
        from iot_lake.weather.tables import STATS_BY_CONDITION as TABLE

        return stats_day(TABLE, run_day(ds))

    @task(inlets=[OBSERVATIONS])
    def profile_observations(ds: str | None = None, run_id: str | None = None) -> str:
        from iot_lake.profiles import profile_day

        return profile_day("weather_observations", run_day(ds), str(run_id))

    flattened = flatten_observations()
    chain_linear(
        wait_for_day_end,
        register_tables(),
        flattened,
        has_observations(flattened),
        [keys_and_ranges, row_count, reconciliation],
        [stats_by_station_day(), stats_by_condition_day(), profile_observations()],
    )


weather_lake()
