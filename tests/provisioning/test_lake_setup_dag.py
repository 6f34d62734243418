"""Integration tier: the lake_setup DAG provisions the local backend, then finds nothing to do."""

from __future__ import annotations

import json
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from iot_lake.engine import get_engine

CONN_ID = "lake_setup_dag_test_mysql"


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    from iot_lake.config import PROJECT_ROOT

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "lake_setup.py"))
    assert bag.import_errors == {}
    return bag.dags["lake_setup"]


def _report(run) -> str:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        [value] = session.scalars(
            XComModel.get_many(
                run_id=run.run_id, dag_ids="lake_setup", task_ids="report"
            ).with_only_columns(XComModel.value)
        ).all()
    return XComModel.deserialize_value(type("X", (), {"value": value})())


@pytest.fixture
def setup_env(lake_settings, tmp_path, monkeypatch):
    import MySQLdb

    from iot_lake import config

    database = f"iot_lake_dag_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("IOT_LAKE_MYSQL_CONN_ID", CONN_ID)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": "127.0.0.1",
                "port": 3306,
                "login": "root",
                "schema": database,
            }
        ),
    )
    monkeypatch.setenv("IOT_LAKE_CERTS_DIR", str(tmp_path / "certs"))
    monkeypatch.setenv("IOT_LAKE_THINGS", "1")
    config.settings.cache_clear()
    yield config.settings()
    config.settings.cache_clear()
    with closing(MySQLdb.connect(host="127.0.0.1", user="root", passwd="")) as conn:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")


def test_setup_dag_builds_the_local_lake_and_a_rerun_reports_no_changes(
    airflow_db, setup_env, tmp_path, monkeypatch
):
    dag = _load_dag()

    first = dag.test()
    # A day published twice: the first version waits out its grace period (set to 0 h once
    # both publishes are done: every publish expires its table's old versions too) and the
    # next lake_setup deletes it.
    from iot_lake import config
    from iot_lake.catalog import get_catalog, parquet_table_input
    from iot_lake.storage import filesystem, join
    from iot_lake.wap import publish

    lake = config.settings()
    get_catalog(lake).upsert_table(lake.curated_database, parquet_table_input(
        "readings", [("station", "string")], join(lake.uri("curated"), "readings"),
        [("dt", "string")],
    ))
    publish.write_partition("SELECT 'a' AS station", lake.curated_database, "readings", ["d1"])
    replaced = publish.write_partition(
        "SELECT 'b' AS station", lake.curated_database, "readings", ["d1"]
    )["previous"]
    fs, replaced_path = filesystem(replaced)
    assert fs.exists(replaced_path)
    monkeypatch.setenv("IOT_LAKE_SUPERSEDED_GRACE_HOURS", "0")
    config.settings.cache_clear()
    second = dag.test()
    assert not fs.exists(replaced_path)
    assert get_engine().query("SELECT station FROM readings").rows == [("b",)]

    states = {ti.task_id: ti.state for ti in first.get_task_instances()}
    assert first.state == "success", states
    assert set(states) == {
        "permissions",
        "storage",
        "catalog",
        "query_engine",
        "ingestion",
        "devices",
        "relational",
        "coffee",
        "expire_superseded",
        "report",
    }
    assert "created" in _report(first)
    assert Path(setup_env.home, "raw").is_dir()
    assert (Path(setup_env.certs_dir) / "mosquitto.conf").is_file()
    assert second.state == "success"
    assert _report(second).startswith("no changes (")
