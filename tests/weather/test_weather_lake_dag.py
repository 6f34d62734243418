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


def test_a_day_waits_flattens_checks_and_computes_stats(
    airflow_db, lake_settings, raw_days
) -> None:
    dag = _load_dag()
    run = dag.test(logical_date=datetime(2026, 11, 3, tzinfo=UTC))
    states = _states(run)
    assert set(states.values()) == {"success"}, states
    assert "crawl_raw" not in states  # declared tables: nothing waits for a crawl
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
    assert engine.run_query(
        "SELECT count(*) FROM weather_rejects WHERE dt = '2026-11-07'"
    ) == [(3,)]
    assert engine.run_query(
        "SELECT count(DISTINCT observed_at) FROM weather_observations WHERE dt = '2026-11-07'"
    ) == [(3,)]


def test_a_failing_check_fails_the_run_and_blocks_the_stats(
    airflow_db, lake_settings, monkeypatch
) -> None:
    """A flatten that let an implausible value through (simulated by widening its bounds)
    is caught by the range check, which reads the same bounds module."""
    from iot_lake.weather import bounds, pipeline

    widened = bounds.sql_params()
    for measure in widened["measures"]:
        measure["maximum"] = 1e9
    monkeypatch.setattr(pipeline, "flatten_params", lambda: widened)
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


def test_the_run_first_waits_deferrably_for_the_end_of_its_day_plus_the_grace(
    lake_settings, monkeypatch
) -> None:
    from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync

    from iot_lake import config
    from iot_lake.operators.macros import LakeMacros

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


@pytest.mark.parametrize("task_id", ["check_keys_and_ranges", "check_row_count"])
def test_checks_are_common_sql_operators(task_id: str) -> None:
    from airflow.providers.common.sql.operators.sql import BaseSQLOperator

    assert isinstance(_load_dag().get_task(task_id), BaseSQLOperator)
