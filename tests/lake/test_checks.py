"""common.sql check operators on the lake: DuckDB hook locally, Athena hook on `aws`."""

from __future__ import annotations

import pytest
from airflow.providers.common.sql.hooks.sql import DbApiHook

from iot_lake import engine
from iot_lake.catalog import get_catalog, parquet_table_input
from iot_lake.hooks import lake_db_hook
from iot_lake.hooks.lake_athena import LakeAthenaSQLHook
from iot_lake.hooks.lake_duckdb import LakeDuckDBHook
from iot_lake.operators.checks import (
    LakeColumnCheckOperator,
    LakeSQLCheckOperator,
    LakeTableCheckOperator,
)
from iot_lake.storage import join


@pytest.fixture
def readings(lake_settings):
    table = parquet_table_input(
        "readings", [("station", "string"), ("temp", "double")],
        join(lake_settings.uri("curated"), "readings"), [("dt", "string")],
    )
    get_catalog(lake_settings).upsert_table("iot_lake", table)
    engine.write_partition(
        "SELECT 'a' AS station, 10.0 AS temp UNION ALL SELECT 'b', 20.0", "iot_lake", "readings",
        ["d1"],
    )
    engine.write_partition(
        "SELECT CAST(NULL AS varchar) AS station, 99.0 AS temp", "iot_lake", "readings", ["d2"]
    )
    return lake_settings


def test_the_hook_follows_the_backend(lake_settings, aws_lake) -> None:
    assert isinstance(lake_db_hook(lake_settings), LakeDuckDBHook)
    hook = lake_db_hook(aws_lake)
    assert isinstance(hook, LakeAthenaSQLHook) and isinstance(hook, DbApiHook)


def test_duckdb_hook_reads_catalog_tables_in_athena_sql(readings) -> None:
    hook = LakeDuckDBHook()
    assert hook.get_records("SELECT count(*) FROM iot_lake.readings WHERE dt = 'd1'") == [(2,)]
    assert hook.get_first("SELECT max(temp) FROM iot_lake.readings") == (99.0,)


def _column_check(partition: str) -> LakeColumnCheckOperator:
    return LakeColumnCheckOperator(
        task_id="columns",
        table="iot_lake.readings",
        partition_clause=f"dt = '{partition}'",
        column_mapping={
            "station": {"null_check": {"equal_to": 0}},
            "temp": {"min": {"geq_to": -90}, "max": {"leq_to": 60}},
        },
        retry_on_failure=False,
    )


def test_column_checks_pass_on_good_data_and_fail_on_bad(readings) -> None:
    _column_check("d1").execute(context={})
    with pytest.raises(Exception, match="Test failed") as error:
        _column_check("d2").execute(context={})
    assert "null_check" in str(error.value) and "max" in str(error.value)


def test_table_check_counts_rows_of_the_partition(readings) -> None:
    check = LakeTableCheckOperator(
        task_id="rows", table="iot_lake.readings", partition_clause="dt = 'd1'",
        checks={"two_rows": {"check_statement": "COUNT(*) = 2"}},
    )
    check.execute(context={})
    empty = LakeTableCheckOperator(
        task_id="rows", table="iot_lake.readings", partition_clause="dt = 'd9'",
        checks={"rows": {"check_statement": "COUNT(*) > 0"}},
    )
    with pytest.raises(Exception, match="Test failed"):
        empty.execute(context={})


def test_sql_check_fails_on_a_false_value(readings) -> None:
    LakeSQLCheckOperator(task_id="ok", sql="SELECT count(*) = 3 FROM iot_lake.readings").execute(
        context={}
    )
    with pytest.raises(Exception, match="Test failed"):
        LakeSQLCheckOperator(
            task_id="bad", sql="SELECT max(temp) < 60 FROM iot_lake.readings"
        ).execute(context={})
