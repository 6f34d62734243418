"""The weather_lake DAG end to end on the local backend (``dag.test()``, real files)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from iot_lake import engine
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


def test_a_day_runs_crawl_flatten_checks_and_stats(airflow_db, lake_settings, raw_days) -> None:
    dag = _load_dag()
    run = dag.test(logical_date=datetime(2026, 11, 3, tzinfo=UTC))
    states = _states(run)
    assert set(states.values()) == {"success"}, states
    assert engine.run_query(
        "SELECT count(*) FROM weather_stats_by_station_day WHERE dt = '2026-11-03'"
    ) == [(5,)]
    [(observations,)] = engine.run_query(
        "SELECT count(DISTINCT (weather_station, observed_at)) FROM weather_observations "
        "WHERE dt = '2026-11-03'"
    )
    assert observations == len(raw_days["2026-11-03"])
    [(profiled_rows,)] = engine.run_query(
        "SELECT max(row_count) FROM column_profiles WHERE dt = '2026-11-03' "
        "AND table_name = 'weather_observations'"
    )
    [(rows,)] = engine.run_query(
        "SELECT count(*) FROM weather_observations WHERE dt = '2026-11-03'"
    )
    assert profiled_rows == rows


def _tree_bytes(uri: str) -> dict[str, bytes]:
    """Every file under a local URI, by relative path, with its bytes."""
    fs, path = filesystem(uri)
    return {
        name[len(path):]: fs.cat_file(name) for name in sorted(fs.find(path))
    }


def test_a_failing_check_keeps_the_published_day_and_the_staged_data(
    airflow_db, lake_settings, capsys
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

    # A late record with an impossible temperature arrives; the rerun must not publish it.
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
    assert str(run.state) == "failed"
    assert _tree_bytes(published_uri) == published, "the published partition changed"
    assert engine.run_query(
        "SELECT max(air_temperature) FROM weather_observations WHERE dt = '2026-11-06'"
    ) != [(75.0,)]

    # The staged version is where the failure message says, and readable as a table.
    [written] = [
        ti.xcom_pull(task_ids="write_observations")
        for ti in run.get_task_instances() if ti.task_id == "write_observations"
    ]
    [staged] = written["staged"]
    staged_path = filesystem(staged["location"])[1]
    assert "/weather_observations/_staging/dt=2026-11-06/run=" in staged_path
    assert filesystem(staged["location"])[0].find(staged_path)
    assert engine.run_query(
        "SELECT max(air_temperature) FROM iot_lake_staging.weather_observations "
        "WHERE dt = '2026-11-06'"
    ) == [(75.0,)]
    failure = capsys.readouterr().out  # the task log of dag.test()
    assert "data check audit_observations.check_keys_and_ranges failed" in failure
    assert "75.0" in failure and staged["location"] in failure


def test_a_day_without_raw_data_skips_checks_and_publishes_it_empty(
    airflow_db, lake_settings
) -> None:
    dag = _load_dag()
    run = dag.test(logical_date=datetime(2026, 11, 12, tzinfo=UTC))
    states = _states(run)
    assert states["write_observations"] == "success"
    assert states["audit_observations.check_row_count"] == "skipped"
    assert states["publish_observations"] == "success"
    assert states["stats_by_station_day"] == "success"


def test_the_graph_is_write_audit_publish() -> None:
    dag = _load_dag()
    checks = {
        "audit_observations.check_keys_and_ranges",
        "audit_observations.check_reconciliation",
        "audit_observations.check_row_count",
    }
    gate = "audit_observations.has_observations"
    assert {t for t in dag.task_ids if t.startswith("audit_observations.")} == checks | {gate}
    assert dag.get_task(gate).upstream_task_ids == {"write_observations"}
    publish = dag.get_task("publish_observations")
    assert checks <= publish.upstream_task_ids
    for task_id in checks:
        check = dag.get_task(task_id)
        assert check.upstream_task_ids == {gate}
        assert check.retry_on_failure is False  # a failed check is never retried
    # every check reads the staged day, never the published table
    for task_id in checks - {"audit_observations.check_reconciliation"}:
        assert dag.get_task(task_id).table == "{{ lake.staging_database }}.weather_observations"
    reconciliation = dag.get_task("audit_observations.check_reconciliation").sql
    assert "FROM {{ lake.staging_database }}.weather_observations" in reconciliation
    assert "{{ lake.curated_database }}" not in reconciliation
    assert dag.get_task("stats_by_station_day").upstream_task_ids == {"publish_observations"}


@pytest.mark.parametrize(
    "task_id",
    ["audit_observations.check_keys_and_ranges", "audit_observations.check_row_count"],
)
def test_checks_are_common_sql_operators(task_id: str) -> None:
    from airflow.providers.common.sql.operators.sql import BaseSQLOperator

    assert isinstance(_load_dag().get_task(task_id), BaseSQLOperator)
