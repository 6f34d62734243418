"""common.sql check operators on the lake: DuckDB hook locally, Athena hook on `aws`."""

from __future__ import annotations

import pytest
from airflow.providers.common.sql.hooks.sql import DbApiHook

from iot_lake.catalog import get_catalog, parquet_table_input
from iot_lake.engine import get_engine
from iot_lake.hooks.lake_duckdb import LakeDuckDBHook
from iot_lake.operators.checks import (
    LakeColumnCheckOperator,
    LakeSQLCheckOperator,
    LakeTableCheckOperator,
)
from iot_lake.storage import join
from iot_lake.wap import publish, staging


@pytest.fixture
def readings(lake_settings):
    table = parquet_table_input(
        "readings", [("station", "string"), ("temp", "double")],
        join(lake_settings.uri("curated"), "readings"), [("dt", "string")],
    )
    get_catalog(lake_settings).upsert_table("iot_lake", table)
    publish.write_partition(
        "SELECT 'a' AS station, 10.0 AS temp UNION ALL SELECT 'b', 20.0", "iot_lake", "readings",
        ["d1"],
    )
    publish.write_partition(
        "SELECT CAST(NULL AS varchar) AS station, 99.0 AS temp", "iot_lake", "readings", ["d2"]
    )
    return lake_settings


def test_checks_run_in_the_task_on_duckdb_and_defer_on_athena(lake_settings, aws_lake) -> None:
    """The operators ask the engine, not the settings, whether to wait in the triggerer."""
    assert not get_engine(lake_settings).defers_waits
    assert get_engine(aws_lake).defers_waits
    hook = LakeColumnCheckOperator(
        task_id="check", table="iot_lake.readings", column_mapping={}).get_db_hook()
    assert isinstance(hook, LakeDuckDBHook) and isinstance(hook, DbApiHook)


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


class _TaskInstance:
    """Just what a check reads from its context: the write task's XCom."""

    def __init__(self, written: dict) -> None:
        self.written = written

    def xcom_pull(self, task_ids: str) -> dict:
        assert task_ids == "write_readings"
        return self.written


def test_a_failed_check_is_a_data_error_naming_values_and_the_staged_data(readings) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from iot_lake.errors import DataCheckFailed

    staged = staging.stage_partition(
        "SELECT 'c' AS station, 75.0 AS temp", "iot_lake", "readings", ["d3"]
    )
    check = LakeColumnCheckOperator(
        task_id="audit.columns",
        table="iot_lake_staging.readings",
        partition_clause="dt = 'd3'",
        column_mapping={"temp": {"max": {"leq_to": 60}}},
        staged_by="write_readings",
    )
    with pytest.raises(DataCheckFailed) as error:
        check.execute(context={"ti": _TaskInstance({"staged": [staged.as_dict()]})})
    assert isinstance(error.value, AirflowFailException)  # never retried
    message = str(error.value)
    assert "data check audit.columns failed" in message
    assert "temp.max column temp on iot_lake_staging.readings: observed '75.0'" in message
    assert "The published partitions are unchanged" in message
    assert staged.location in message and "iot_lake_staging.readings" in message
    # the published table never saw the staged row
    assert get_engine().query(
        "SELECT count(*) FROM iot_lake.readings WHERE dt = 'd3'").rows == [(0,)]


def test_an_engine_error_in_a_check_stays_retryable(readings) -> None:
    from iot_lake.errors import DataCheckFailed

    check = LakeSQLCheckOperator(
        task_id="broken", sql="SELECT no_such_column FROM iot_lake.readings")
    with pytest.raises(Exception) as error:
        check.execute(context={})
    assert not isinstance(error.value, DataCheckFailed)
