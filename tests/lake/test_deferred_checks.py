"""Data-quality checks on `aws`: deferred to the AthenaTrigger, replayed on typed results.

Every AWS call goes to a moto *server* (the trigger's async client needs an endpoint);
moto does not run SQL, so each test feeds it the rows Athena would return for the check
query (its ``/moto-api/static/athena/query-results`` queue). `local` (DuckDB, in the task)
is covered by ``test_checks.py``.
"""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from iot_lake.operators.checks import (
    DataCheckFailed,
    LakeColumnCheckOperator,
    LakeSQLCheckOperator,
    LakeTableCheckOperator,
)
from tests.fixtures.deferral import FakeTaskInstance, deferral, resume
from tests.fixtures.moto import lake_on_server, queue_result

WORKGROUP = "iot_lake_checks"
STAGED = {
    "database": "iot_lake",
    "table": "readings",
    "values": ["2026-11-03"],
    "location": "s3://checks-lake/curated/readings/_staging/dt=2026-11-03/run=r1/",
    "staging_database": "iot_lake_staging",
}


@pytest.fixture
def athena_lake(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """`aws` settings on the moto server: a results bucket and the lake's workgroup."""
    return lake_on_server(moto_endpoint, monkeypatch, bucket="checks-lake", workgroup=WORKGROUP)


@pytest.fixture
def running_queries(athena_lake, athena_keeps_running):
    return athena_lake


def _task_instance(task_id: str) -> FakeTaskInstance:
    """XCom of the check (its pending query) and of the write task (the staged data)."""
    return FakeTaskInstance(task_id, {("write_readings", "return_value"): {"staged": [STAGED]}})


def _athena(endpoint: str):
    return boto3.client("athena", endpoint_url=endpoint, region_name="us-east-1")


def _column_check(**kwargs: Any) -> LakeColumnCheckOperator:
    return LakeColumnCheckOperator(
        task_id="audit.columns",
        table="iot_lake_staging.readings",
        partition_clause="dt = '2026-11-03'",
        column_mapping={
            "station": {"null_check": {"equal_to": 0}},
            "temp": {"min": {"geq_to": -90}, "max": {"leq_to": 60}},
        },
        staged_by="write_readings",
        poll_interval=1,
        max_polls=5,
        **kwargs,
    )


def _table_check() -> LakeTableCheckOperator:
    return LakeTableCheckOperator(
        task_id="audit.rows",
        table="iot_lake_staging.readings",
        partition_clause="dt = '2026-11-03'",
        checks={
            "rows_present": {"check_statement": "COUNT(*) > 0"},
            "temp_finite": {"check_statement": "is_finite(temp)"},
        },
        staged_by="write_readings",
        poll_interval=1,
        max_polls=5,
    )


def _deferred(operator: Any, ti: FakeTaskInstance) -> Any:
    return deferral(lambda: operator.execute({"ti": ti}))


def _resume(fresh: Any, deferred: Any, ti: FakeTaskInstance) -> Any:
    """A resumed task is a new operator instance given the deferral's kwargs and the event."""
    return resume(fresh, deferred, {"ti": ti})


COLUMNS = [("col_name", "varchar"), ("check_type", "varchar"), ("check_result", "double")]


# --------------------------------------------------------------------------- deferral


def test_a_column_check_defers_to_the_athena_trigger_with_the_common_sql_query(
    athena_lake, moto_endpoint
) -> None:
    from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger

    check, ti = _column_check(), _task_instance("audit.columns")
    deferred = _deferred(check, ti)

    assert isinstance(deferred.trigger, AthenaTrigger)
    assert deferred.method_name == "execute_complete"
    [(sql, execution_id)] = deferred.kwargs["queries"].items()
    assert sql == check.sql and deferred.kwargs["pending"] == execution_id
    assert ti.xcom_pull("audit.columns", key="athena_query")["id"] == execution_id
    execution = _athena(moto_endpoint).get_query_execution(QueryExecutionId=execution_id)[
        "QueryExecution"
    ]
    assert execution["Query"] == check.sql  # common.sql's own check SQL
    assert (
        "CAST(MAX(temp) AS double) AS temp_max FROM iot_lake_staging.readings "
        "WHERE dt = '2026-11-03'"
    ) in sql
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["QueryExecutionContext"]["Database"] == "iot_lake"


def test_a_check_query_runs_in_the_check_database(athena_lake, moto_endpoint) -> None:
    deferred = _deferred(_column_check(database="iot_lake_staging"), _task_instance("c"))
    execution = _athena(moto_endpoint).get_query_execution(
        QueryExecutionId=deferred.kwargs["pending"]
    )["QueryExecution"]
    assert execution["QueryExecutionContext"]["Database"] == "iot_lake_staging"


# --------------------------------------------------------------------------- replay


def test_a_column_check_passes_on_typed_results(athena_lake, moto_endpoint) -> None:
    ti = _task_instance("audit.columns")
    deferred = _deferred(_column_check(), ti)
    # Text cells: untyped, '0.0' == 0 would fail and '20.0' <= 60 would raise.
    queue_result(
        COLUMNS,
        [
            ("station", "null_check", "0.0"),
            ("temp", "min", "-5.5"),
            ("temp", "max", "20.0"),
        ],
    )
    fresh = _column_check()
    assert _resume(fresh, deferred, ti) is None
    assert [(r.name, r.success, r.actual) for r in fresh.check_results] == [
        ("station.null_check", True, "0.0"),
        ("temp.min", True, "-5.5"),
        ("temp.max", True, "20.0"),
    ]


def test_a_failing_column_check_raises_data_check_failed_naming_values_and_staged_data(
    athena_lake, moto_endpoint
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    ti = _task_instance("audit.columns")
    deferred = _deferred(_column_check(), ti)
    queue_result(
        COLUMNS,
        [
            ("station", "null_check", "2.0"),
            ("temp", "min", None),
            ("temp", "max", "75.0"),
        ],
    )
    with pytest.raises(DataCheckFailed) as error:
        _resume(_column_check(), deferred, ti)

    assert isinstance(error.value, AirflowFailException)  # never retried
    message = str(error.value)
    assert "data check audit.columns failed" in message
    assert "null_check column station on iot_lake_staging.readings: observed '2.0'" in message
    assert "temp.max column temp on iot_lake_staging.readings: observed '75.0'" in message
    assert "temp.min" not in message.split("common.sql says")[0]  # NULL min: accept_none
    assert STAGED["location"] in message and "The published partitions are unchanged" in message


@pytest.mark.parametrize(
    ("results", "passes"), [(("1", "1"), True), (("1", "0"), False)], ids=["pass", "fail"]
)
def test_a_table_check_replays_on_athena_results(
    athena_lake, moto_endpoint, results: tuple[str, str], passes: bool
) -> None:
    ti = _task_instance("audit.rows")
    deferred = _deferred(_table_check(), ti)
    execution = _athena(moto_endpoint).get_query_execution(
        QueryExecutionId=deferred.kwargs["pending"]
    )["QueryExecution"]
    assert execution["Query"] == _table_check().sql
    assert "CASE WHEN is_finite(temp) THEN 1 ELSE 0 END AS temp_finite" in execution["Query"]
    queue_result(
        [("check_name", "varchar"), ("check_result", "integer")],
        [("rows_present", results[0]), ("temp_finite", results[1])],
    )
    if passes:
        assert _resume(_table_check(), deferred, ti) is None
        return
    with pytest.raises(
        DataCheckFailed,
        match=re.escape(
            "temp_finite on iot_lake_staging.readings: observed '0', expected all truthy"),
    ):
        _resume(_table_check(), deferred, ti)


@pytest.mark.parametrize(("value", "passes"), [("true", True), ("false", False)])
def test_a_sql_check_reads_athena_booleans_as_booleans(
    athena_lake, moto_endpoint, value: str, passes: bool
) -> None:
    def check() -> LakeSQLCheckOperator:
        return LakeSQLCheckOperator(
            task_id="audit.hours",
            sql="SELECT count(*) > 0, bool_and(hour < 24) FROM readings",
            poll_interval=1,
            max_polls=5,
        )

    ti = _task_instance("audit.hours")
    deferred = _deferred(check(), ti)
    queue_result([("_col0", "boolean"), ("_col1", "boolean")], [("true", value)])
    if passes:
        assert _resume(check(), deferred, ti) is None
        return
    # The text 'false' is truthy: only a typed False fails the check.
    with pytest.raises(DataCheckFailed, match=r"observed '\(True, False\)'"):
        _resume(check(), deferred, ti)


def test_a_check_whose_query_fails_is_an_engine_error_and_stays_retryable(
    athena_lake, moto_endpoint
) -> None:
    from iot_lake.errors import AirflowFailException, QueryError

    ti = _task_instance("audit.columns")
    deferred = _deferred(_column_check(), ti)
    _athena(moto_endpoint).stop_query_execution(QueryExecutionId=deferred.kwargs["pending"])
    with pytest.raises(QueryError, match="did not succeed") as error:
        _resume(_column_check(), deferred, ti)
    assert not isinstance(error.value, AirflowFailException)


# --------------------------------------------------------------------------- no query left behind


def _state(endpoint: str, execution_id: str) -> str:
    execution = _athena(endpoint).get_query_execution(QueryExecutionId=execution_id)
    return execution["QueryExecution"]["Status"]["State"]


def test_killing_a_deferred_check_stops_its_query(running_queries, moto_endpoint) -> None:
    check = _column_check()
    deferred = _deferred(check, _task_instance("audit.columns"))
    execution_id = deferred.kwargs["pending"]
    assert _state(moto_endpoint, execution_id) in ("QUEUED", "RUNNING")
    check.on_kill()
    assert _state(moto_endpoint, execution_id) == "CANCELLED"


def test_a_deferred_check_that_times_out_stops_its_query(running_queries, moto_endpoint) -> None:
    from airflow.sdk.exceptions import TaskDeferralTimeout

    ti = _task_instance("audit.columns")
    execution_id = _deferred(_column_check(), ti).kwargs["pending"]
    assert _state(moto_endpoint, execution_id) in ("QUEUED", "RUNNING")
    fresh = _column_check()  # the failed resume gets no kwargs of ours: XCom names the query
    with pytest.raises(TaskDeferralTimeout):
        fresh.resume_execution("__fail__", {"error": "Trigger timeout"}, {"ti": ti})
    assert _state(moto_endpoint, execution_id) == "CANCELLED"

