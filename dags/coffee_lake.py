r"""
### coffee_lake: the coffee machines' presses, from Aurora MySQL to the lake, once a day

```
export_day --> register_partition --> check_columns            --> profile_coffees
                                  \-> check_coffee_hour_in_day  -/
                                  \-> reconcile_with_mysql      -/
```

1. **export_day**: the day's rows of `coffees` (`D <= coffee_hour < D + 1 day`, UTC) are
   streamed from the MySQL connection (`coffee_mysql`, Aurora MySQL on `aws`, MariaDB
   locally) through a server-side cursor into a GZIP
   Parquet file with real `timestamp` and `boolean` columns, written to a staging prefix
   and swapped in as `curated/coffees/dt=<ds>/`. Rows with an unusable `photo_url` (or a
   flag outside 0/1/NULL) go to `curated/coffees_rejects/dt=<ds>/rejects.jsonl` with
   their reason.
2. **register_partition**: table `<curated_database>.coffees` and partition `dt=<ds>` in
   the catalog (Glue on `aws`, the local catalog on `local`).
3. **checks**: unique, non-null `id`; non-null `coffee_hour` inside the day; flags only
   true/false/NULL (min >= 0, max <= 1); and the reconciliation: rows in MySQL = rows in
   the partition + rejected rows.
4. **profile_coffees**: column statistics of the day (nulls, distinct values, min/max,
   quartiles, top values) into the `column_profiles` table, what Glue DataBrew's profile
   job showed in the original (same SQL on Athena and DuckDB: `include/sql/quality/`).

The day `D` is the run's logical date (daily data intervals in UTC: the nightly run for
`D` starts once `D` has ended; `airflow dags test coffee_lake D` processes `D`).

Idempotent: a rerun or a backfill of a day replaces that day's partition and rejects
whole. `catchup=True` on purpose: each run owns one day, so
re-enabling the DAG after a pause fills the missing days. Code: `plugins/iot_lake/coffee/`;
docs: `docs/coffee.md`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import Asset, chain, dag, task

from iot_lake.dag_defaults import DEFAULT_ARGS, TEMPLATE_SEARCHPATH, day_bounds, run_day
from iot_lake.operators.checks import LakeColumnCheckOperator, LakeSQLCheckOperator
from iot_lake.operators.macros import LAKE
from iot_lake.timetables import DailyTimetable

# Named <database>.<table> like weather_lake's assets (no URI: no provider loads at parse).
COFFEES_ASSET = Asset(name="iot_lake.coffees")
COFFEES = "{{ lake.curated_database }}.coffees"
# The day is the run's logical date (see iot_lake.dag_defaults.run_day).
DAY = "dt = '{{ ds }}'"
BOOLEAN = {"min": {"geq_to": 0}, "max": {"leq_to": 1}}  # true/false/NULL, nothing else
FLAGS = ("has_face", "smile", "beard", "mustache", "glasses")


@dag(
    dag_id="coffee_lake",
    schedule=DailyTimetable(),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=True,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    tags=["iot-lake", "coffee", "quality"],
    doc_md=__doc__,
    template_searchpath=TEMPLATE_SEARCHPATH,
    user_defined_macros={"lake": LAKE},
)
def coffee_lake() -> None:
    @task
    def export_day(ds: str | None = None) -> dict[str, Any]:
        from iot_lake.coffee.export import export_day

        day = run_day(ds)
        return export_day(day, *day_bounds(day)).as_dict()

    @task(outlets=[COFFEES_ASSET])
    def register_partition(ds: str | None = None) -> dict[str, Any]:
        from iot_lake.coffee.table import register_partition

        return register_partition(run_day(ds))

    check_columns = LakeColumnCheckOperator(
        task_id="check_columns",
        table=COFFEES,
        partition_clause=DAY,
        column_mapping={
            "id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
            "coffee_hour": {"null_check": {"equal_to": 0}},
            **{flag: BOOLEAN for flag in FLAGS},
        },
    )

    check_coffee_hour_in_day = LakeSQLCheckOperator(
        task_id="check_coffee_hour_in_day",
        sql="coffee/check_coffee_hour_in_day.sql",
    )

    @task
    def reconcile_with_mysql(ds: str | None = None) -> dict[str, Any]:
        from iot_lake.coffee.reconcile import reconcile_day

        day = run_day(ds)
        return reconcile_day(day, *day_bounds(day)).as_dict()

    @task(inlets=[COFFEES_ASSET])
    def profile_coffees(ds: str | None = None, run_id: str | None = None) -> str:
        from iot_lake.profiles import profile_day

        return profile_day("coffees", run_day(ds), str(run_id))

    chain(
        export_day(),
        register_partition(),
        [check_columns, check_coffee_hour_in_day, reconcile_with_mysql()],
        profile_coffees(),
    )


coffee_lake()
