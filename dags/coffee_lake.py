r"""
### coffee_lake: the coffee machines' presses, from Aurora MySQL to the lake, once a day

```
write_coffees --> audit_coffees.check_columns             --> publish_coffees --> profile_coffees
              \-> audit_coffees.check_coffee_hour_in_day -/
              \-> audit_coffees.reconcile_with_mysql     -/
              \-> audit_coffees.check_day_not_shrunk     -/
```

A run's day `D` is its logical date (UTC); it replaces partition `dt=D` of `coffees` and
`coffee_rejects`. The param `accept_shrink` publishes a day that lost most of its rows on
purpose.

How it works: `docs/coffee.md`. Why it is built this way: `docs/decisions.md`.
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
