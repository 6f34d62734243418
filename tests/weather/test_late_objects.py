"""Reconciliation counts the raw objects the write read, not those that landed since.

An object can land in ``day=D`` between the write and the audit (a late Firehose flush,
a redelivery). The write records the exact objects it read (key and size, ETag on S3)
and reads only those; the audit reconciles against that record. The late object is not
an error: the next rerun of the day reads it.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta

import pytest

from iot_lake.engine import get_engine
from iot_lake.storage import atomic_open, filesystem
from iot_lake.weather import reconcile, synthetic
from iot_lake.weather.pipeline import stage_day
from iot_lake.weather.reconcile import ReconciliationError, reconcile_day
from iot_lake.weather.tables import ensure_tables

DAY = "2026-11-05"
START = datetime(2026, 11, 5, tzinfo=UTC)
STATION = "722540-13904"


def _messages(hours, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    return [synthetic.message(STATION, START + timedelta(hours=h), rng) for h in hours]


@pytest.fixture
def day_objects(lake_settings) -> list[str]:
    ensure_tables(lake_settings)
    return synthetic.write_raw(lake_settings.uri("raw"), _messages(range(6)))


def _land_late_object(lake_settings) -> str:
    """A Firehose object of day D that arrives after the write (its first record at 23:58)."""
    return synthetic.write_object(
        lake_settings.uri("raw"), _messages([22, 23], seed=6), START + timedelta(hours=23.97),
        DAY,
    )


def test_the_write_records_the_objects_it_read(lake_settings, day_objects) -> None:
    written = stage_day(DAY)
    recorded = written["raw_objects"]
    assert sorted(o["uri"] for o in recorded) == sorted(day_objects)
    for entry in recorded:
        fs, path = filesystem(entry["uri"])
        assert entry["size"] == fs.size(path)
    assert written["lines_read"] == 6


def test_an_object_landing_between_write_and_audit_does_not_fail_the_audit(
    lake_settings, day_objects
) -> None:
    written = stage_day(DAY)
    late = _land_late_object(lake_settings)
    figures = reconcile_day(DAY, written=written)
    assert figures["raw_objects"] == len(day_objects)
    assert figures["raw_records"] == figures["lines_read"] == 6
    # the next run of the day reads it
    again = stage_day(DAY)
    assert late in {o["uri"] for o in again["raw_objects"]}
    assert reconcile_day(DAY, written=again)["raw_records"] == 8


def test_a_recorded_object_that_changed_since_the_write_fails_the_audit(
    lake_settings, day_objects
) -> None:
    written = stage_day(DAY)
    with atomic_open(day_objects[0]) as handle:  # rewritten in place: not what was read
        handle.write(synthetic.encode_records(_messages(range(9))))
    with pytest.raises(ReconciliationError, match="changed since the write read it"):
        reconcile_day(DAY, written=written)


def test_the_dag_publishes_what_it_read_and_the_rerun_takes_the_late_object(
    airflow_db, lake_settings, day_objects, monkeypatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    dag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py")).get_dag("weather_lake")
    real = reconcile.reconcile_task
    landed = []

    def audit_after_a_late_object(*args, **kwargs):
        if not landed:
            landed.append(_land_late_object(lake_settings))
        return real(*args, **kwargs)

    monkeypatch.setattr(reconcile, "reconcile_task", audit_after_a_late_object)
    run = dag.test(logical_date=START)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    assert landed
    observed = "SELECT count(DISTINCT observed_at) FROM weather_observations WHERE dt = '{{ ds }}'"
    assert get_engine().query(observed, ds=DAY).rows == [(6,)]

    run = dag.test(logical_date=START)
    assert str(run.state) == "success"
    assert get_engine().query(observed, ds=DAY).rows == [(8,)]


def test_a_resumed_write_renders_the_objects_its_first_run_listed(
    lake_settings, day_objects
) -> None:
    """On aws the task renders its templates again at each resume after a deferral."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT
    from tests.fixtures.deferral import FakeTaskInstance

    dag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py")).get_dag("weather_lake")
    ti = FakeTaskInstance("write_observations")

    def rendered_typed_pass() -> str:
        task = copy.deepcopy(dag.get_task("write_observations"))  # a fresh task per run
        task.render_template_fields({"ds": DAY, "params": dict(task.params), "ti": ti})
        return task.steps[0]["weather_typed_records"]

    first = rendered_typed_pass()
    late = _land_late_object(lake_settings)
    resumed = rendered_typed_pass()
    assert resumed == first and late not in resumed
    assert all(uri in first for uri in day_objects)
    ti.xcom.clear()  # a new try lists again
    assert late in rendered_typed_pass()
