"""Integration tier: the coffee_lake DAG runs a day end to end with dag.test() on local."""

from __future__ import annotations

import contextlib
import shutil
from datetime import UTC, datetime

import pyarrow.parquet as pq

from iot_lake.catalog import get_catalog
from iot_lake.coffee import export
from iot_lake.engine import get_engine
from iot_lake.storage import filesystem
from tests.coffee.conftest import DAY


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    from iot_lake.config import PROJECT_ROOT

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "coffee_lake.py"))
    assert bag.import_errors == {}
    return bag.dags["coffee_lake"]


def test_a_day_runs_write_audit_publish(
    airflow_db, coffee_db, lake_settings, tmp_path, monkeypatch
):
    photo = f"{lake_settings.uri('photos')}/coffee-machine-01/{DAY}/a.jpg"
    ids = coffee_db.insert(
        [
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 7, 30), "has_face": 1},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 16, 5), "smile": 0},
            {"photo_url": None, "coffee_hour": datetime(2026, 11, 20, 17, 0)},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 21, 0, 0, 1)},  # next day
        ]
    )

    # A manual run covers the last whole day before its logical date.
    run = _load_dag().test(logical_date=datetime(2026, 11, 20, tzinfo=UTC))

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert set(states) == {
        "write_coffees",
        "audit_coffees.check_columns",
        "audit_coffees.check_coffee_hour_in_day",
        "audit_coffees.reconcile_with_mysql",
        "audit_coffees.check_day_not_shrunk",
        "publish_coffees",
        "profile_coffees",
    }
    # The day's column profile: one row per column of the table, counted over the 2 rows.
    profile = dict(
        get_engine().query(
            f"SELECT column_name, row_count FROM column_profiles WHERE dt = '{DAY}' "
            "AND table_name = 'coffees'"
        ).rows
    )
    assert profile["id"] == 2 and profile["coffee_hour"] == 2
    path = filesystem(f"{export.partition_uri(lake_settings, DAY)}/{export.PARQUET_FILE}")[1]
    assert sorted(pq.read_table(path).column("id").to_pylist()) == ids[:2]
    catalog = get_catalog(lake_settings)
    partitions = catalog.get_partitions(lake_settings.curated_database, "coffees")
    assert [p["Values"] for p in partitions] == [[DAY]]


def _tree_bytes(uri: str) -> dict[str, bytes]:
    fs, path = filesystem(uri)
    return {name[len(path):]: fs.cat_file(name) for name in sorted(fs.find(path))}


def test_a_failing_check_keeps_the_published_day_and_the_staged_data(
    airflow_db, coffee_db, lake_settings, capsys, monkeypatch
):
    photo = f"{lake_settings.uri('photos')}/coffee-machine-01/{DAY}/a.jpg"
    [first] = coffee_db.insert([{"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 7)}])
    dag = _load_dag()
    assert dag.test(logical_date=datetime(2026, 11, 20, tzinfo=UTC)).state == "success"
    places = (export.partition_uri(lake_settings, DAY), export.rejects_uri(lake_settings, DAY))
    published = {uri: _tree_bytes(uri) for uri in places}
    assert all(published.values())

    # A rerun whose staged file holds every row twice (a broken writer): the unique
    # check (and the reconciliation) must stop it before it is published.
    coffee_db.insert([{"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 8)}])
    real_stage = export.stage_day

    def stage_with_a_duplicate(*args, **kwargs):
        result = real_stage(*args, **kwargs)
        path = filesystem(result.partition_uri)[1]
        shutil.copy(f"{path}/{export.PARQUET_FILE}", f"{path}/part-00001.parquet")
        return result

    monkeypatch.setattr(export, "stage_day", stage_with_a_duplicate)
    run = dag.test(logical_date=datetime(2026, 11, 20, tzinfo=UTC))

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["audit_coffees.check_columns"] == "failed"
    assert states["audit_coffees.reconcile_with_mysql"] == "failed"
    assert states["publish_coffees"] == "upstream_failed"
    assert run.state == "failed"
    for uri, files in published.items():
        assert _tree_bytes(uri) == files, f"{uri} changed"
    assert get_engine().query(f"SELECT id FROM coffees WHERE dt = '{DAY}'").rows == [(first,)]

    [written] = [
        ti.xcom_pull(task_ids="write_coffees")
        for ti in run.get_task_instances() if ti.task_id == "write_coffees"
    ]
    staged_uri = written["partition_uri"]
    assert "/coffees/_staging/dt=2026-11-20/run=" in staged_uri
    assert len(get_engine().query(
        f"SELECT id FROM iot_lake_staging.coffees WHERE dt = '{DAY}'"
    ).rows) == 4  # two rows, each twice
    log = capsys.readouterr().out
    assert "data check audit_coffees.check_columns failed" in log
    assert "id.unique_check" in log and staged_uri in log


def test_each_flag_column_records_its_own_observed_values() -> None:
    """The column check writes each result into its check's dict: a dict shared between
    columns made every flag's recorded max the last column's (found by the scale-out
    test: the quality results then depended on the order the rows came back in)."""
    from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator

    check = _load_dag().get_task("audit_coffees.check_columns")
    operator = SQLColumnCheckOperator(
        task_id="probe", table="t", column_mapping=check.column_mapping, conn_id="x"
    )
    flags = ("has_face", "smile", "beard", "mustache", "glasses")
    records = [
        (column, kind, flags.index(column) if column in flags else 0)
        for column, checks in check.column_mapping.items()
        for kind in checks
    ]
    operator.get_db_hook = lambda: type("Hook", (), {"get_records": lambda _s, _q: records})()
    with contextlib.suppress(Exception):  # flags 2..4 fail their max; results are kept first
        operator.execute({})
    observed = {r.name: r.actual for r in operator.check_results}
    assert [observed[f"{flag}.max"] for flag in flags] == ["0", "1", "2", "3", "4"]
