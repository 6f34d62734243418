"""The project's daily timetable: a run of day D covers [D, D+1) whoever started it.

Airflow's ``CronDataIntervalTimetable("@daily")`` gives a scheduled run of day D the
logical date D and the data interval [D, D+1), but a run made by hand (UI/REST trigger,
``airflow dags test``) with logical date D the interval [D-1, D) (``infer_manual_data_interval``
returns "the last complete period before run_after"); ``airflow dags trigger -l D`` even
infers it from the wall clock. When the scheduler then reaches D it finds that run,
and ``DagModel.calculate_dagrun_date_fields`` derives the next run from the found run's
interval: [D-1, D) -> next [D, D+1) -> logical date D again, which exists -> the
"run already exists; skipping dagrun creation" loop that never advances (or, from a
wall-clock interval, a jump that silently skips days).

Here a run's day is its logical date for every run type (see
``iot_lake.dag_defaults.run_day``), so:

* ``infer_manual_data_interval`` gives a manual run the day that contains its date;
* ``run_info_from_dag_run`` (what the scheduler reasons from when it meets an existing
  run) takes the day of the run's logical date, whatever interval the run was given,
  so a manual run of D counts as D's run and the next one is D+1.

The class subclasses Airflow core's timetable, so the scheduler deserializes it; it is
registered in the project's plugin (``plugins/iot_lake_dashboard.py``, ``timetables``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.timetables.base import DagRunInfo, DataInterval
from airflow.timetables.interval import CronDataIntervalTimetable
from pendulum import UTC, DateTime

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun


def _day_of(moment: DateTime) -> DataInterval:
    start = DateTime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return DataInterval(start=start, end=start.add(days=1))


class DailyTimetable(CronDataIntervalTimetable):
    """Daily UTC intervals; the run of day D, scheduled or manual, covers [D, D+1)."""

    def __init__(self, cron: str = "@daily", timezone: object = "UTC") -> None:
        super().__init__(cron, timezone)  # type: ignore[arg-type]

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The UTC day that contains ``run_after`` (the logical date on UI/REST triggers)."""
        return _day_of(DateTime.instance(run_after).in_timezone(UTC))

    def run_info_from_dag_run(self, *, dag_run: DagRun) -> DagRunInfo:
        """An existing run stands for the day of its logical date (its run type aside)."""
        info = super().run_info_from_dag_run(dag_run=dag_run)
        if dag_run.logical_date is None:
            return info
        return info._replace(data_interval=_day_of(DateTime.instance(dag_run.logical_date)))
