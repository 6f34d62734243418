"""The weather_lake DAG end to end on the local backend (``dag.test()``, real files)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from iot_lake import engine
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


def test_a_failing_check_fails_the_run_and_blocks_the_stats(airflow_db, lake_settings) -> None:
    day = datetime(2026, 11, 6, tzinfo=UTC)
    rng = random.Random(3)
    messages = [
        synthetic.message("722540-13904", day + timedelta(hours=h), rng) for h in range(6)
    ]
    messages[2]["air_temperature"]["value"] = 75.0  # impossible on Earth: the range check
    synthetic.write_raw(lake_settings.uri("raw"), messages)
    dag = _load_dag()
    run = dag.test(logical_date=day)
    states = _states(run)
    assert states["flatten_observations"] == "success"
    assert states["check_keys_and_ranges"] == "failed"
    assert states["check_reconciliation"] == "success"
    assert states["stats_by_station_day"] == "upstream_failed"
    assert states["stats_by_condition_day"] == "upstream_failed"
    assert str(run.state) == "failed"


def test_a_day_without_raw_data_skips_checks_and_stats(airflow_db, lake_settings) -> None:
    dag = _load_dag()
    run = dag.test(logical_date=datetime(2026, 11, 12, tzinfo=UTC))
    states = _states(run)
    assert states["flatten_observations"] == "success"
    assert states["check_row_count"] == "skipped"
    assert states["stats_by_station_day"] == "skipped"


@pytest.mark.parametrize("task_id", ["check_keys_and_ranges", "check_row_count"])
def test_checks_are_common_sql_operators(task_id: str) -> None:
    from airflow.providers.common.sql.operators.sql import BaseSQLOperator

    assert isinstance(_load_dag().get_task(task_id), BaseSQLOperator)
