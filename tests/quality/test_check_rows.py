"""Turning a finished common.sql check operator into quality_results rows (real MariaDB)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import MySQLdb
import pytest
from airflow.providers.common.sql.operators.sql import (
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)

from iot_lake.quality import check_rows, split_table


@pytest.fixture
def mysql_conn_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throw-away MariaDB database holding a small ``readings`` table with one bad value."""
    name = f"quality_{uuid.uuid4().hex[:8]}"
    server = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="")
    cursor = server.cursor()
    cursor.execute(f"CREATE DATABASE {name}")
    cursor.execute(f"CREATE TABLE {name}.readings (station VARCHAR(8), temperature DOUBLE)")
    cursor.executemany(
        f"INSERT INTO {name}.readings VALUES (%s, %s)",
        [("a", 12.5), ("b", -3.0), ("c", 71.0), (None, 5.0)],
    )
    server.commit()
    monkeypatch.setenv("AIRFLOW_CONN_QUALITY_MYSQL", f"mysql://root@127.0.0.1:3306/{name}")
    yield "quality_mysql"
    cursor.execute(f"DROP DATABASE {name}")
    server.close()


def test_failed_column_check_still_yields_every_observed_value(mysql_conn_id: str) -> None:
    operator = SQLColumnCheckOperator(
        task_id="check_readings",
        conn_id=mysql_conn_id,
        table="readings",
        column_mapping={
            "station": {"null_check": {"equal_to": 0}},
            "temperature": {"min": {"geq_to": -90}, "max": {"leq_to": 60}},
        },
    )
    with pytest.raises(Exception, match="The following tests have failed"):
        operator.execute(context={})
    at = datetime(2024, 6, 2, 3, 4, tzinfo=UTC)
    rows = check_rows(
        operator, dag_id="d", task_id="check_readings", run_id="r1", try_number=1, checked_at=at
    )
    got = {(r.column_name, r.check_name): (r.passed, float(r.observed_value)) for r in rows}
    assert got == {
        ("station", "station.null_check"): (False, 1.0),
        ("temperature", "temperature.min"): (True, -3.0),
        ("temperature", "temperature.max"): (False, 71.0),
    }
    assert {(r.table_name, r.run_id, r.checked_at) for r in rows} == {("readings", "r1", at)}


def test_table_check_results_become_rows(mysql_conn_id: str) -> None:
    operator = SQLTableCheckOperator(
        task_id="table_checks",
        conn_id=mysql_conn_id,
        table="readings",
        checks={
            "row_count_check": {"check_statement": "COUNT(*) = 4"},
            "all_warm": {"check_statement": "temperature > 0"},
        },
    )
    with pytest.raises(Exception, match="all_warm"):
        operator.execute(context={})
    rows = check_rows(operator, dag_id="d", task_id="table_checks", run_id="r1", try_number=2)
    assert {r.check_name: r.passed for r in rows} == {"row_count_check": True, "all_warm": False}
    assert all(r.try_number == 2 and r.table_name == "readings" for r in rows)


def test_an_operator_that_ran_no_checks_gives_no_rows() -> None:
    operator = SQLTableCheckOperator(
        task_id="t", conn_id="none", table="x", checks={"c": {"check_statement": "1 = 1"}}
    )
    assert check_rows(operator, dag_id="d", task_id="t", run_id="r", try_number=1) == []


def test_qualified_table_names_are_split() -> None:
    assert split_table('"iot_lake"."coffees"') == ("iot_lake", "coffees")
    assert split_table("coffees") == (None, "coffees")
