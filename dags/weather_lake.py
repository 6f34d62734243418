"""
### weather_lake: raw station messages -> daily Parquet -> checks -> daily stats

Every day `D` = the run's logical date (daily data intervals in UTC: the nightly run
for `D` starts once `D` has ended; `catchup=True` on purpose: each run owns exactly one
observation day, so catching up or backfilling a range rebuilds those days and nothing
else):

1. **register_tables**: the curated tables (`include/glue/tables/*.json`) exist in the
   catalog (Glue on `aws`, JSON beside the lake on `local`).
2. **crawl_raw**: new `weather/YYYY/MM/DD/HH/` folders of the raw bucket become partitions
   of `iot_lake_raw.weather` (Glue crawler on `aws`, deferrable; DuckDB-based crawler on
   `local`, same settings from `include/glue/crawler_raw_weather.json`).
3. **write_observations**: `include/sql/weather/flatten_observations.sql` reads the
   arrival hours `D-late_days .. D+late_days`, keeps observations timed on day `D`,
   removes duplicates by `(weather_station, observed_at)`, unnests sky-cover layers and
   present-weather groups with `LEFT JOIN UNNEST ... ON TRUE` and writes partition
   `dt=D` of `weather_observations` **aside** (Parquet, GZIP by default): a staged
   version, registered as partition `dt=D` of `<curated_database>_staging.weather_observations`
   (`plugins/iot_lake/wap.py`). Readers of the curated table still see the old day.
4. **audit_observations**: a day without raw observations skips the checks (the empty
   day is published as such). Otherwise every check reads the *staged* day
   (common.sql operators over Athena / DuckDB): keys not null, air temperature within
   [-90, 60] °C, row count > 0, and raw-to-flat reconciliation. A failure is a data
   error (no retry); its message names the check, the offending values and where the
   staged data is kept; the published day is untouched.
5. **publish_observations**: the audited version is swapped in (directory swap on
   `local`, Glue partition swap on `aws`); the replaced version stays readable for
   `superseded_grace_hours` (default 24) for queries still running on it, then
   `lake_setup` or the next publish deletes it.
6. **stats_by_station_day / stats_by_condition_day**: min/avg/max air temperature and
   counts per station and per present weather condition, partition `dt=D`, from the
   published day (deferrable Athena UNLOAD on `aws`: no worker slot while Athena runs);
   **profile_observations**: column statistics of the day into `column_profiles` (what
   Glue DataBrew's profile job showed; same SQL on Athena and DuckDB).

Rerun a day: `airflow tasks clear weather_lake -s D -e D`, or `airflow dags test
weather_lake D`.
Backfill: `airflow backfill create --dag-id weather_lake --from-date D1 --to-date D2
--reprocess-behavior completed`. See `docs/weather_lake.md`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import (
    Asset,
    CronDataIntervalTimetable,
    Param,
    TaskGroup,
    TriggerRule,
    chain,
    dag,
    get_current_context,
    task,
)

from iot_lake.dag_defaults import DEFAULT_ARGS, TEMPLATE_SEARCHPATH, run_day
from iot_lake.operators.checks import (
    LakeColumnCheckOperator,
    LakeSQLCheckOperator,
    LakeTableCheckOperator,
)
from iot_lake.operators.crawl import LakeCrawlOperator
from iot_lake.operators.macros import LAKE
from iot_lake.operators.write import LakeWritePartitionOperator

# Assets are named <database>.<table>; a URI with a scheme would make Airflow load every
# provider's URI handlers (boto3 included) while parsing this file.
RAW_WEATHER = Asset(name="iot_lake_raw.weather")
OBSERVATIONS = Asset(name="iot_lake.weather_observations")
STATS_BY_STATION = Asset(name="iot_lake.weather_stats_by_station_day")
STATS_BY_CONDITION = Asset(name="iot_lake.weather_stats_by_condition_day")

# The audit reads the staged partition (iot_lake.wap), never the published one.
STAGED_OBSERVATIONS = "{{ lake.staging_database }}.weather_observations"
WRITE = "write_observations"
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
    params={
        "late_days": Param(
            1, type="integer", minimum=0, maximum=30,
            description="arrival days before/after D that may hold observations of day D",
        )
    },
)
def weather_lake() -> None:
    @task
    def register_tables() -> list[str]:
        from iot_lake.weather.tables import ensure_tables

        return ensure_tables()

    crawl_raw = LakeCrawlOperator(task_id="crawl_raw", outlets=[RAW_WEATHER])

    # ---- write: the day's new partition, staged (not visible in the curated table)
    @task(inlets=[RAW_WEATHER])
    def write_observations(ds: str | None = None) -> dict[str, Any]:
        from iot_lake.weather.pipeline import stage_day

        params = get_current_context()["params"]
        return stage_day(run_day(ds), late_days=int(params["late_days"]))

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def has_observations(written: dict[str, Any]) -> bool:
        return int(written["observations"]) > 0

    # ---- audit: every check reads the staged partition; any failure stops the publish
    written = write_observations()
    with TaskGroup("audit_observations") as audit_observations:
        # A day without observations skips the checks and publishes the empty day.
        day_has_data = has_observations(written)
        checks = [
            LakeColumnCheckOperator(
                task_id="check_keys_and_ranges",
                table=STAGED_OBSERVATIONS,
                partition_clause=DAY,
                column_mapping={
                    "weather_station": {"null_check": {"equal_to": 0}},
                    "observed_at": {"null_check": {"equal_to": 0}},
                    "air_temperature": {"min": {"geq_to": -90}, "max": {"leq_to": 60}},
                },
                staged_by=WRITE,
            ),
            LakeTableCheckOperator(
                task_id="check_row_count",
                table=STAGED_OBSERVATIONS,
                partition_clause=DAY,
                checks={"row_count_positive": {"check_statement": "COUNT(*) > 0"}},
                staged_by=WRITE,
            ),
            LakeSQLCheckOperator(
                task_id="check_reconciliation",
                sql="weather/check_reconciliation.sql",
                staged_by=WRITE,
            ),
        ]
        day_has_data >> checks

    # ---- publish: swap the audited partition in (a day without data publishes it empty)
    @task(outlets=[OBSERVATIONS], trigger_rule=TriggerRule.NONE_FAILED)
    def publish_observations(written: dict[str, Any]) -> list[dict[str, Any]]:
        from iot_lake.wap import publish_all

        return publish_all(written["staged"])

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

    @task(inlets=[OBSERVATIONS])
    def profile_observations(ds: str | None = None, run_id: str | None = None) -> str:
        from iot_lake.profiles import profile_day

        return profile_day("weather_observations", run_day(ds), str(run_id))

    published = publish_observations(written)
    chain(register_tables(), crawl_raw, written, audit_observations, published)
    published >> [stats_by_station_day, stats_by_condition_day, profile_observations()]


weather_lake()
