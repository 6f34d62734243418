"""DailyTimetable: the run of day D covers [D, D+1) whoever made it (issue 13's loop).

The scheduler, on meeting an existing run at its next logical date, derives the next run
from that run's data interval (``DagModel.calculate_dagrun_date_fields``). These tests
do the same with Airflow's own ``CronDataIntervalTimetable`` (the cause) and the
project's timetable (the fix). ``test_scheduler.py`` proves it with a real scheduler.
"""

from __future__ import annotations

from types import SimpleNamespace

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable

from iot_lake.timetables import DailyTimetable

D = pendulum.datetime(2026, 11, 27)
NOW = pendulum.datetime(2026, 12, 1, 0, 40)
RESTRICTION = TimeRestriction(earliest=pendulum.datetime(2026, 11, 1), latest=None, catchup=True)


def manual_run(logical_date, interval: DataInterval, run_after=NOW) -> SimpleNamespace:
    return SimpleNamespace(
        logical_date=logical_date,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        run_after=run_after,
        partition_key=None,
        partition_date=None,
    )


def next_logical_date(timetable, run) -> pendulum.DateTime:
    info = timetable.next_dagrun_info_v2(
        last_dagrun_info=timetable.run_info_from_dag_run(dag_run=run), restriction=RESTRICTION
    )
    return info.logical_date


def test_airflows_timetable_gives_a_manual_run_of_d_the_day_before_and_loops() -> None:
    stock = CronDataIntervalTimetable("@daily", "UTC")
    # A UI/REST trigger (or `airflow dags test`) with logical date D: interval [D-1, D).
    interval = stock.infer_manual_data_interval(run_after=D)
    assert interval == DataInterval(D.subtract(days=1), D)
    # ... so the run after it is D again: the "run already exists" loop.
    assert next_logical_date(stock, manual_run(D, interval)) == D


@pytest.mark.parametrize(
    "interval",
    [
        DataInterval(D.subtract(days=1), D),  # made by Airflow's timetable (UI, dags test)
        DataInterval(NOW.start_of("day").subtract(days=1), NOW.start_of("day")),  # CLI: clock
        DataInterval(D, D.add(days=1)),  # made by DailyTimetable
    ],
    ids=["ui-interval", "cli-wall-clock-interval", "daily-interval"],
)
def test_a_manual_run_of_d_is_ds_run_and_the_next_one_is_d_plus_1(interval) -> None:
    assert next_logical_date(DailyTimetable(), manual_run(D, interval)) == D.add(days=1)


@pytest.mark.parametrize("at", [D, D.add(hours=13, minutes=45)], ids=["midnight", "afternoon"])
def test_a_manual_run_gets_the_day_of_its_date(at) -> None:
    assert DailyTimetable().infer_manual_data_interval(run_after=at) == DataInterval(
        D, D.add(days=1)
    )


def test_scheduled_runs_are_unchanged() -> None:
    first = DailyTimetable().next_dagrun_info_v2(last_dagrun_info=None, restriction=RESTRICTION)
    assert first.data_interval == DataInterval(
        pendulum.datetime(2026, 11, 1), pendulum.datetime(2026, 11, 2)
    )
    assert first.run_after == pendulum.datetime(2026, 11, 2)


def test_the_scheduler_can_deserialize_it_from_the_plugin() -> None:
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    encoded = encode_timetable(DailyTimetable())
    assert encoded["__type"] == "iot_lake.timetables.DailyTimetable"
    assert isinstance(decode_timetable(encoded), DailyTimetable)


@pytest.fixture
def session():
    """Airflow's own metadata tables (its ORM models) in an in-memory database: what the
    DAG processor's and the scheduler's runs are attached to."""
    from airflow.models import import_all_models
    from airflow.models.base import Base
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    import_all_models()
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as orm_session:
        yield orm_session
    engine.dispose()


def test_the_next_run_steps_over_days_whose_slot_a_run_already_holds(session) -> None:
    """The DAG processor's reference is the latest scheduled/backfill run (D); manual runs
    hold D+1 and D+2: the next run is D+3 (not D+1, which the scheduler would meet as
    "run already exists"), and the gap at D+3 stops the walk before the run of D+4."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    def run(dag_id: str, at, run_type: DagRunType) -> DagRun:
        dag_run = DagRun(
            dag_id=dag_id,
            run_id=f"{run_type.value}__{at.isoformat()}",
            logical_date=at,
            run_type=run_type,
            data_interval=(at.subtract(days=1), at),  # as a UI trigger with stock Airflow
            run_after=NOW,
        )
        session.add(dag_run)
        session.flush()
        return dag_run

    reference = run("lake", D, DagRunType.SCHEDULED)
    run("lake", D.add(days=1), DagRunType.MANUAL)
    run("lake", D.add(days=2), DagRunType.MANUAL)
    run("lake", D.add(days=4), DagRunType.MANUAL)
    run("other_dag", D.add(days=3), DagRunType.MANUAL)  # another DAG's run holds nothing
    run("lake", D.add(days=3, hours=12), DagRunType.MANUAL)  # not the 00:00 slot
    assert next_logical_date(DailyTimetable(), reference) == D.add(days=3)
    # The scheduler, meeting or making the run of D+2, gets the same answer.
    later = session.scalars(select(DagRun).where(DagRun.logical_date == D.add(days=2))).one()
    assert next_logical_date(DailyTimetable(), later) == D.add(days=3)
