r"""
### coffee_lake: the coffee machines' presses, from Aurora MySQL to the lake, once a day

```
write_coffees --> audit_coffees.check_columns             --> publish_coffees --> profile_coffees
              \-> audit_coffees.check_coffee_hour_in_day -/
              \-> audit_coffees.reconcile_with_mysql     -/
              \-> audit_coffees.check_day_not_shrunk     -/
```

Write -> audit -> publish, as in `weather_lake` (`plugins/iot_lake/wap.py`):

1. **write_coffees**: the day's rows of `coffees` (`D <= coffee_hour < D + 1 day`, UTC)
   are streamed from the MySQL connection (`coffee_mysql`, Aurora MySQL on `aws`,
   MariaDB locally) through a server-side cursor into a GZIP Parquet file with real
   `timestamp` and `boolean` columns. Rows with an unusable `photo_url` (or a flag
   outside 0/1/NULL) go to `coffee_rejects` with their reason and the raw row. Both are
   **staged**: partition `dt=D` of `<curated_database>_staging.coffees` /
   `.coffee_rejects`; readers of the curated tables still see the previous version.
2. **audit_coffees** (on the staged day): unique, non-null `id`; non-null `coffee_hour`
   inside the day; flags only true/false/NULL (min >= 0, max <= 1); and the
   reconciliation: rows in MySQL = staged rows + staged rejects; and the day may not lose
   all, or more than `max_day_shrink` (default 0.5), of its published rows unless the
   run is triggered with `accept_shrink` = true (`iot_lake.shrink`). A failure is a data
   error (no retry); its message names the check, the values and where the staged data
   is kept.
3. **publish_coffees**: swaps the audited rejects, then rows, in (directory swap on
   `local`, Glue partition swap on `aws`); the replaced version is kept for
   `superseded_grace_hours`.
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

from airflow.sdk import Asset, Param, TaskGroup, dag, task

from iot_lake.coffee.operators import ReconcileWithMySQLOperator
from iot_lake.dag_defaults import DEFAULT_ARGS, TEMPLATE_SEARCHPATH, day_bounds, run_day
from iot_lake.operators.checks import (
    LakeColumnCheckOperator,
    LakeDayShrinkCheckOperator,
    LakeSQLCheckOperator,
)
from iot_lake.operators.profile import LakeProfileOperator
from iot_lake.sql.render import LAKE
from iot_lake.timetables import DailyTimetable

# Named <database>.<table> like weather_lake's assets (no URI: no provider loads at parse).
COFFEES_ASSET = Asset(name="iot_lake.coffees")
REJECTS_ASSET = Asset(name="iot_lake.coffee_rejects")
# The audit reads the staged day (iot_lake.wap), never the published one.
STAGED_COFFEES = "{{ lake.staging_database }}.coffees"
WRITE = "write_coffees"
# The day is the run's logical date (see iot_lake.dag_defaults.run_day).
DAY = "dt = '{{ ds }}'"


def boolean() -> dict[str, dict[str, int]]:
    """Checks of a flag: true/false/NULL, nothing else. A new dict per column: the column
    check operator writes each result into its check's dict, so one dict shared by five
    columns recorded whichever column came back last as every column's observed value."""
    return {"min": {"geq_to": 0}, "max": {"leq_to": 1}}


FLAGS = ("has_face", "smile", "beard", "mustache", "glasses")
ACCEPT_SHRINK = (
    "publish the day even if it has lost all or most (setting max_day_shrink) of the "
    "rows of its published version: set on a manual rerun when the smaller day is right"
)


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
    params={"accept_shrink": Param(False, type="boolean", description=ACCEPT_SHRINK)},
)
def coffee_lake() -> None:
    @task
    def write_coffees(ds: str | None = None) -> dict[str, Any]:
        from iot_lake.coffee.export import stage_day

        day = run_day(ds)
        return stage_day(day, *day_bounds(day)).as_dict()

    @task(outlets=[COFFEES_ASSET, REJECTS_ASSET])
    def publish_coffees(written: dict[str, Any]) -> list[dict[str, Any]]:
        from iot_lake.wap.publish import publish

        return publish(written)

    profile_coffees = LakeProfileOperator(
        task_id="profile_coffees", table="coffees", inlets=[COFFEES_ASSET]
    )

    written = write_coffees()
    with TaskGroup("audit_coffees") as audit_coffees:
        LakeColumnCheckOperator(
            task_id="check_columns",
            table=STAGED_COFFEES,
            partition_clause=DAY,
            column_mapping={
                "id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
                "coffee_hour": {"null_check": {"equal_to": 0}},
                **{flag: boolean() for flag in FLAGS},
            },
            staged_by=WRITE,
        )
        LakeSQLCheckOperator(
            task_id="check_coffee_hour_in_day",
            sql="coffee/check_coffee_hour_in_day.sql",
            staged_by=WRITE,
        )
        ReconcileWithMySQLOperator(task_id="reconcile_with_mysql", written=written)
        LakeDayShrinkCheckOperator(
            task_id="check_day_not_shrunk", table="coffees", staged_by=WRITE
        )
    written >> audit_coffees >> publish_coffees(written) >> profile_coffees


coffee_lake()
