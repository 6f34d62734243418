"""The weather_lake DAG end to end on the local backend (``dag.test()``, real files)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from iot_lake.engine import get_engine
from iot_lake.storage import filesystem, join
from iot_lake.weather import synthetic


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py"))
    assert bag.import_errors == {}
    return bag.get_dag("weather_lake")




def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_a_day_waits_flattens_checks_and_computes_stats(
    airflow_db, lake_settings, raw_days
) -> None:
    dag = _load_dag()
    run = dag.test(logical_date=datetime(2026, 11, 3, tzinfo=UTC))
    states = _states(run)
    assert set(states.values()) == {"success"}, states
    assert "crawl_raw" not in states  # declared tables: nothing waits for a crawl
    assert get_engine().query(
        "SELECT count(*) FROM weather_stats_by_station_day WHERE dt = '2026-11-03'"
    ).rows == [(5,)]
    [(observations,)] = get_engine().query(
        "SELECT count(DISTINCT (weather_station, observed_at)) FROM weather_observations "
        "WHERE dt = '2026-11-03'"
    ).rows
    assert observations == len(raw_days["2026-11-03"])
    [(profiled_rows,)] = get_engine().query(
        "SELECT max(row_count) FROM column_profiles WHERE dt = '2026-11-03' "
        "AND table_name = 'weather_observations'"
    ).rows
    [(rows,)] = get_engine().query(
        "SELECT count(*) FROM weather_observations WHERE dt = '2026-11-03'"
    ).rows
    assert profiled_rows == rows


def test_bad_records_are_rejected_and_the_day_still_succeeds(airflow_db, lake_settings) -> None:
    day = datetime(2026, 11, 7, tzinfo=UTC)
    rng = random.Random(3)
    messages = [
        synthetic.message("722540-13904", day + timedelta(hours=h), rng) for h in range(6)
    ]
    messages[2]["air_temperature"]["value"] = 75.0  # impossible on Earth
    messages[3]["air_temperature"]["value"] = "warm"  # wrong type
    del messages[4]["time"]  # no time: lands in day=undated
    synthetic.write_raw(lake_settings.uri("raw"), messages,
                        arrival=lambda _m: day + timedelta(hours=7))
    run = _load_dag().test(logical_date=day)
    states = _states(run)
    assert set(states.values()) == {"success"}, states
    assert get_engine().query(
        "SELECT count(*) FROM weather_rejects WHERE dt = '2026-11-07'"
    ).rows == [(3,)]
    assert get_engine().query(
        "SELECT count(DISTINCT observed_at) FROM weather_observations WHERE dt = '2026-11-07'"
    ).rows == [(3,)]


def _tree_bytes(uri: str) -> dict[str, bytes]:
    """Every file under a local URI, by relative path, with its bytes."""
    fs, path = filesystem(uri)
    return {
        name[len(path):]: fs.cat_file(name) for name in sorted(fs.find(path))
    }


def test_a_failing_check_keeps_the_published_day_and_the_staged_data(
    airflow_db, lake_settings, capsys, monkeypatch
) -> None:
    day = datetime(2026, 11, 6, tzinfo=UTC)
    rng = random.Random(3)
    messages = [
        synthetic.message("722540-13904", day + timedelta(hours=h), rng) for h in range(6)
    ]
    synthetic.write_raw(lake_settings.uri("raw"), messages)
    dag = _load_dag()
    assert str(dag.test(logical_date=day).state) == "success"
    published_uri = join(lake_settings.uri("curated"), "weather_observations", "dt=2026-11-06")
    published = _tree_bytes(published_uri)
    assert published

    # A late record with an impossible temperature arrives, and a flatten lets it through
    # (simulated by widening the bounds its SQL receives as params): the range check,
    # which keeps the real bounds, catches it on the staged day and the rerun must not
    # publish it.
    from iot_lake.weather import bounds

    widened = bounds.sql_params()
    for measure in widened["measures"]:
        measure["maximum"] = 1e9
    dag.get_task("write_observations").params["measures"] = widened["measures"]
    bad = synthetic.message("722540-13904", day + timedelta(hours=7), rng)
    bad["air_temperature"]["value"] = 75.0
    synthetic.write_raw(lake_settings.uri("raw"), [bad])
    run = dag.test(logical_date=day)

    states = _states(run)
    assert states["write_observations"] == "success"
    assert states["audit_observations.check_keys_and_ranges"] == "failed"
    assert states["audit_observations.check_reconciliation"] == "success"
    assert states["publish_observations"] == "upstream_failed"
    assert states["stats_by_station_day"] == "upstream_failed"
    assert states["stats_by_condition_day"] == "upstream_failed"
    assert str(run.state) == "failed"
    assert _tree_bytes(published_uri) == published, "the published partition changed"
    assert get_engine().query(
        "SELECT max(air_temperature) FROM weather_observations WHERE dt = '2026-11-06'"
    ).rows != [(75.0,)]

    # The staged version is where the failure message says, and readable as a table.
    [written] = [
        ti.xcom_pull(task_ids="write_observations")
        for ti in run.get_task_instances() if ti.task_id == "write_observations"
    ]
    rejects, staged = written["staged"]
    assert rejects["table"] == "weather_rejects"  # published together, rejects first
    staged_path = filesystem(staged["location"])[1]
    assert "/weather_observations/_staging/dt=2026-11-06/run=" in staged_path
    assert filesystem(staged["location"])[0].find(staged_path)
    assert get_engine().query(
        "SELECT max(air_temperature) FROM iot_lake_staging.weather_observations "
        "WHERE dt = '2026-11-06'"
    ).rows == [(75.0,)]
    failure = capsys.readouterr().out  # the task log of dag.test()
    assert "data check audit_observations.check_keys_and_ranges failed" in failure
    assert "75.0" in failure and staged["location"] in failure


def test_a_day_without_raw_data_skips_row_checks_and_publishes_it_empty(
    airflow_db, lake_settings
) -> None:
    dag = _load_dag()
    run = dag.test(logical_date=datetime(2026, 11, 12, tzinfo=UTC))
    states = _states(run)
    assert states["write_observations"] == "success"
    assert states["audit_observations.check_row_count"] == "skipped"
    # never short-circuited: a day that was never published has nothing to lose
    assert states["audit_observations.check_reconciliation"] == "success"
    assert states["audit_observations.check_day_not_shrunk"] == "success"
    assert states["publish_observations"] == "success"
    assert states["stats_by_station_day"] == "success"


def test_the_run_first_waits_deferrably_for_the_end_of_its_day_plus_the_grace(
    lake_settings, monkeypatch
) -> None:
    from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync

    from iot_lake import config
    from iot_lake.sql.render import LakeMacros

    dag = _load_dag()
    wait = dag.get_task("wait_for_day_end")
    assert isinstance(wait, DateTimeSensorAsync)
    assert wait.upstream_task_ids == set()
    assert dag.get_task("register_tables").upstream_task_ids == {"wait_for_day_end"}
    assert wait.target_time == "{{ lake.day_closes(ds) }}"
    assert LakeMacros().day_closes("2026-11-03") == "2026-11-04T00:10:00+00:00"
    monkeypatch.setenv("IOT_LAKE_ARRIVAL_GRACE_MINUTES", "25")
    config.settings.cache_clear()
    assert LakeMacros().day_closes("2026-11-03") == "2026-11-04T00:25:00+00:00"
    config.settings.cache_clear()


def test_the_wait_for_a_past_day_fires_at_once() -> None:
    import asyncio

    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    trigger = DateTimeTrigger(moment=datetime(2026, 11, 4, 0, 10, tzinfo=UTC))

    async def first_event():
        return await asyncio.wait_for(anext(trigger.run()), timeout=5)

    assert asyncio.run(first_event()) is not None


def test_the_graph_is_write_audit_publish() -> None:
    dag = _load_dag()
    checks = {
        "audit_observations.check_keys_and_ranges",
        "audit_observations.check_reconciliation",
        "audit_observations.check_row_count",
        "audit_observations.check_day_not_shrunk",
    }
    always = {"audit_observations.check_reconciliation", "audit_observations.check_day_not_shrunk"}
    gate = "audit_observations.has_observations"
    assert {t for t in dag.task_ids if t.startswith("audit_observations.")} == checks | {gate}
    assert dag.get_task(gate).upstream_task_ids == {"write_observations"}
    publish = dag.get_task("publish_observations")
    assert checks <= publish.upstream_task_ids
    reconciliation = "audit_observations.check_reconciliation"
    for task_id in checks - always:
        check = dag.get_task(task_id)
        assert check.upstream_task_ids == {gate}
        assert check.retry_on_failure is False  # a failed check is never retried
        # every check reads the staged day, never the published table
        assert check.table == "{{ lake.staging_database }}.weather_observations"
    # the reconciliation gets the staged versions (to name them) from the write step;
    # a mismatch raises ReconciliationError, a LakeDataError: never retried
    # The day's gate skips the per-row checks only: reconciliation and the comparison
    # with the published day always run.
    assert dag.get_task(reconciliation).upstream_task_ids == {"write_observations"}
    assert dag.get_task("audit_observations.check_day_not_shrunk").upstream_task_ids == {
        "write_observations"
    }
    assert dag.get_task("publish_observations").upstream_task_ids >= {"write_observations"}
    assert dag.get_task("stats_by_station_day").upstream_task_ids == {"publish_observations"}


@pytest.mark.parametrize(
    "task_id",
    ["audit_observations.check_keys_and_ranges", "audit_observations.check_row_count"],
)
def test_checks_are_common_sql_operators(task_id: str) -> None:
    from airflow.providers.common.sql.operators.sql import BaseSQLOperator

    assert isinstance(_load_dag().get_task(task_id), BaseSQLOperator)
