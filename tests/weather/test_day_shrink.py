"""An empty or much smaller weather day never replaces its published day silently."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta

from iot_lake.engine import get_engine
from iot_lake.storage import filesystem, join
from iot_lake.weather import synthetic
from iot_lake.weather.layout import day_prefix

DAY = datetime(2026, 11, 9, tzinfo=UTC)


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py"))
    assert bag.import_errors == {}
    return bag.get_dag("weather_lake")


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _published_rows() -> int:
    [(rows,)] = get_engine().query(
        "SELECT count(*) FROM weather_observations WHERE dt = '2026-11-09'"
    ).rows
    return rows


def test_a_lost_raw_folder_fails_the_audit_unless_the_run_accepts_it(
    airflow_db, lake_settings, capsys
) -> None:
    rng = random.Random(9)
    messages = [
        synthetic.message("722540-13904", DAY + timedelta(hours=h), rng) for h in range(8)
    ]
    synthetic.write_raw(lake_settings.uri("raw"), messages)
    dag = _load_dag()
    assert str(dag.test(logical_date=DAY).state) == "success"
    published = _published_rows()
    assert published >= 8

    # The raw folder of the day is lost (or the raw location is wrong): the rerun reads
    # nothing. Reconciliation runs (0 = 0), the per-row checks skip, and the comparison
    # with the published day stops the publish.
    _fs, raw_day = filesystem(join(lake_settings.uri("raw"), day_prefix("2026-11-09")))
    shutil.rmtree(raw_day)
    run = dag.test(logical_date=DAY)
    states = _states(run)
    assert states["audit_observations.check_reconciliation"] == "success"
    assert states["audit_observations.check_row_count"] == "skipped"
    assert states["audit_observations.check_day_not_shrunk"] == "failed"
    assert states["publish_observations"] == "upstream_failed"
    assert str(run.state) == "failed"
    assert _published_rows() == published, "the empty day replaced the published one"
    log = capsys.readouterr().out
    assert "data check audit_observations.check_day_not_shrunk failed" in log
    assert f"the published version {published}" in log and "accept_shrink = true" in log

    # A person who knows the day is right triggers it with accept_shrink.
    run = dag.test(logical_date=DAY, run_conf={"accept_shrink": True})
    states = _states(run)
    assert str(run.state) == "success", states
    assert states["audit_observations.check_day_not_shrunk"] == "success"
    assert _published_rows() == 0


def test_a_first_empty_day_publishes_and_the_accept_param_is_in_the_trigger_form(
    airflow_db, lake_settings
) -> None:
    dag = _load_dag()
    param = dag.params.get_param("accept_shrink")
    assert param.value is False and param.schema["type"] == "boolean"
    run = dag.test(logical_date=datetime(2026, 11, 13, tzinfo=UTC))
    states = _states(run)
    assert str(run.state) == "success", states
    assert states["audit_observations.check_reconciliation"] == "success"
    assert states["audit_observations.check_day_not_shrunk"] == "success"
