"""End to end: a DAG's check task, run by Airflow, leaves its results in quality_results."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import MySQLdb
import pendulum
import pyarrow.parquet as pq
import pytest

from iot_lake.storage import filesystem


@pytest.fixture
def mysql_conn_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"quality_{uuid.uuid4().hex[:8]}"
    server = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="")
    cursor = server.cursor()
    cursor.execute(f"CREATE DATABASE {name}")
    cursor.execute(f"CREATE TABLE {name}.coffees (id INT, smile TINYINT)")
    cursor.executemany(f"INSERT INTO {name}.coffees VALUES (%s, %s)", [(1, 1), (2, 0), (2, None)])
    server.commit()
    monkeypatch.setenv("AIRFLOW_CONN_QUALITY_MYSQL", f"mysql://root@127.0.0.1:3306/{name}")
    yield "quality_mysql"
    cursor.execute(f"DROP DATABASE {name}")
    server.close()


DAG_FILE = """
from datetime import datetime

from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator
from airflow.sdk import DAG

with DAG(dag_id="quality_listener_probe", start_date=datetime(2024, 1, 1), schedule=None,
         catchup=False) as dag:
    SQLColumnCheckOperator(
        task_id="check_coffees",
        conn_id="quality_mysql",
        table="coffees",
        retries=0,
        column_mapping={"id": {"unique_check": {"equal_to": 0}, "null_check": {"equal_to": 0}}},
    )
"""


def test_a_failing_check_task_records_all_its_results(
    airflow_db, lake_settings, mysql_conn_id, tmp_path, monkeypatch
) -> None:
    # dag.test() runs DAGs that live in a bundle: give it a dags folder with this one.
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "quality_listener_probe.py").write_text(DAG_FILE)
    from airflow import settings

    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(dags))  # read once at import
    namespace: dict = {}
    exec(compile(DAG_FILE, str(dags / "quality_listener_probe.py"), "exec"), namespace)
    dag = namespace["dag"]

    run = dag.test(logical_date=pendulum.datetime(2024, 6, 1, tz="UTC"))
    assert run.state == "failed"

    fs, path = filesystem(f"{lake_settings.uri('curated')}/quality_results/dt=2024-06-01")
    files = [p for p in fs.ls(path, detail=False) if p.endswith(".parquet")]
    assert len(files) == 1
    with fs.open(files[0], "rb") as handle:
        stored = pq.read_table(handle).to_pylist()
    assert {(r["check_name"], r["passed"]) for r in stored} == {
        ("id.unique_check", False),
        ("id.null_check", True),
    }
    assert {(r["dag_id"], r["task_id"], r["run_id"]) for r in stored} == {
        (dag.dag_id, "check_coffees", run.run_id)
    }
