"""An empty or much smaller coffee day never replaces its published day silently."""

from __future__ import annotations

from datetime import UTC, datetime

from iot_lake.engine import get_engine
from tests.coffee.conftest import DAY

LOGICAL = datetime(2026, 11, 20, tzinfo=UTC)


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    from iot_lake.config import PROJECT_ROOT

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "coffee_lake.py"))
    assert bag.import_errors == {}
    return bag.dags["coffee_lake"]


def _published() -> int:
    [(rows,)] = get_engine().query(f"SELECT count(*) FROM coffees WHERE dt = '{DAY}'").rows
    return rows


def test_a_source_that_lost_the_day_fails_the_audit_unless_the_run_accepts_it(
    airflow_db, coffee_db, lake_settings, capsys
) -> None:
    photo = f"{lake_settings.uri('photos')}/coffee-machine-01/{DAY}/a.jpg"
    coffee_db.insert(
        [{"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, h)} for h in range(7, 11)]
    )
    dag = _load_dag()
    assert dag.params.get_param("accept_shrink").value is False
    assert dag.test(logical_date=LOGICAL).state == "success"
    assert _published() == 4

    # Rows vanish from the source (a wrong database, a restore...): the day reconciles
    # (0 = 0 + 0) and every column check passes on no rows; only the comparison with the
    # published day can stop it.
    coffee_db.truncate()
    run = dag.test(logical_date=LOGICAL)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["audit_coffees.reconcile_with_mysql"] == "success"
    assert states["audit_coffees.check_day_not_shrunk"] == "failed"
    assert states["publish_coffees"] == "upstream_failed"
    assert run.state == "failed"
    assert _published() == 4
    log = capsys.readouterr().out
    assert "data check audit_coffees.check_day_not_shrunk failed" in log
    assert "accept_shrink = true" in log

    # Three of four rows gone: a drop beyond max_day_shrink (0.5) fails too.
    coffee_db.insert([{"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 9)}])
    run = dag.test(logical_date=LOGICAL)
    assert run.state == "failed"
    assert _published() == 4

    run = dag.test(logical_date=LOGICAL, run_conf={"accept_shrink": True})
    assert run.state == "success"
    assert _published() == 1

    # An emptied day, accepted, publishes empty: every other check holds on no rows (as
    # on Athena: count_if of no rows is 0 there, and now locally too).
    coffee_db.truncate()
    run = dag.test(logical_date=LOGICAL, run_conf={"accept_shrink": True})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert _published() == 0
