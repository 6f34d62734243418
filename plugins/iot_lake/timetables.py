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

That alone still let "Next Run" flip. The DAG processor re-derives ``next_dagrun`` on
every pass from the latest *scheduled or backfill* run only
(``dag_processing/collection.py`` ``_get_latest_runs_stmt``, by design: "manual runs not
considered"): after the scheduler ran D-2 with a manual run at D-1, each pass set
``next_dagrun`` back to D-1, the scheduler's ``_create_dag_runs`` met the manual run
("run already exists; skipping dagrun creation") and set D, and so on. A timetable never
sees the DAG's runs (``next_dagrun_info`` gets the last automated run's interval, not
even the dag_id), and a UI/REST trigger always makes a MANUAL run (only backfills, which
``./lake demo`` uses, count as automated). The one place where both callers hand the
timetable a run is ``run_info_from_dag_run`` (``DagModel.calculate_dagrun_date_fields``,
called by the DAG processor with the latest automated run and by the scheduler with the
run it just made or met). So there the reference day is moved over the following days
whose scheduled logical date (00:00 UTC) is already taken by a run of any type, read
through the run's own ORM session: both callers then compute the same next run, the first
free day, and the scheduler never meets an existing run. A run at another time of day
(a UI trigger at 12:00) does not take the day's slot, so the scheduled run still comes.
Left as Airflow does it: a DAG with no scheduled/backfill run at all and a manual run at
its very first scheduled day meets that run once per DAG-processor pass until its first
automated run exists (there is no run to hand the timetable).

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
        day = _day_of(DateTime.instance(dag_run.logical_date))
        return info._replace(data_interval=_past_taken_days(dag_run, day))


def _past_taken_days(dag_run: DagRun, day: DataInterval) -> DataInterval:
    """``day``, moved over the following days whose 00:00 logical date a run already holds.

    The scheduler cannot create a run at a taken logical date (unique per DAG), so such a
    day is done for scheduling; reading the runs through the reference run's session keeps
    the answer inside the caller's transaction (the DAG processor holds the DAG row lock).
    """
    from sqlalchemy import inspect, select

    state = inspect(dag_run, raiseerr=False)
    session = getattr(state, "session", None)
    if session is None or not getattr(dag_run, "dag_id", None):
        return day
    from airflow.models.dagrun import DagRun as DagRunModel  # scheduler/DAG processor only

    with session.no_autoflush:
        taken = {
            moment.timestamp()
            for moment in session.scalars(
                select(DagRunModel.logical_date).where(
                    DagRunModel.dag_id == dag_run.dag_id,
                    DagRunModel.logical_date >= day.end,
                )
            )
        }
    while day.end.timestamp() in taken:
        day = _day_of(day.end)
    return day
