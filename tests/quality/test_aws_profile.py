"""The `aws` path of the profiles: the same SQL on Athena (moto), typed rows back."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pyarrow.parquet as pq
import pytest

from iot_lake import profiles
from iot_lake.engine import get_engine
from tests.fixtures.deferral import FakeTaskInstance, deferral, resume
from tests.fixtures.moto import lake_on_server, queue_result

WORKGROUP = "iot_lake_quality_test"


@pytest.fixture
def athena(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """`aws` settings with Glue, Athena and S3 served by moto (never real AWS)."""
    from moto import mock_aws

    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", "s3://quality-curated")
    monkeypatch.setenv("IOT_LAKE_QUERY_RESULTS_URI", "s3://quality-athena/results/")
    monkeypatch.setenv("IOT_LAKE_ATHENA_WORKGROUP", WORKGROUP)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    config.settings.cache_clear()
    with mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="quality-athena")
        boto3.client("athena", region_name="us-east-1").create_work_group(Name=WORKGROUP)
        yield boto3
    config.settings.cache_clear()


STATS_COLUMNS = [
    ("column_name", "varchar"), ("column_type", "varchar"), ("row_count", "bigint"),
    ("null_count", "bigint"), ("distinct_count", "bigint"), ("min_value", "varchar"),
    ("max_value", "varchar"), ("mean", "double"), ("stddev", "double"), ("p25", "double"),
    ("p50", "double"), ("p75", "double"),
]  # fmt: skip


def _coffees_table() -> None:
    from iot_lake.catalog import get_catalog, parquet_table_input

    catalog = get_catalog()
    catalog.ensure_database("iot_lake")
    catalog.upsert_table(
        "iot_lake",
        parquet_table_input(
            "coffees",
            [("machine_id", "string"), ("smile", "boolean")],
            "s3://quality-curated/coffees/",
            partition_keys=[("dt", "string")],
        ),
    )


STATS_ROWS = [
    ["machine_id", "string", "23", "0", "2", "m-1", "m-2", None, None, None, None, None],
    ["smile", "boolean", "23", "5", "2", None, None, "0.388", None, None, None, None],
]
TOP_COLUMNS = [
    ("column_name", "varchar"), ("value", "varchar"), ("value_count", "bigint"),
    ("value_rank", "bigint"),
]  # fmt: skip
TOP_ROWS = [
    ["machine_id", "m-1", "15", "1"], ["machine_id", "m-2", "8", "2"],
    ["smile", "false", "11", "1"], ["smile", "true", "7", "2"],
]  # fmt: skip


def test_profile_on_athena_runs_the_profile_sql_and_types_the_results(athena) -> None:
    _coffees_table()
    queue_result(
        STATS_COLUMNS,
        [
            ["machine_id", "string", "23", "0", "2", "m-1", "m-2", None, None, None, None, None],
            ["smile", "boolean", "23", "5", "2", None, None, "0.388", None, None, None, None],
        ],
    )
    queue_result(
        [
            ("column_name", "varchar"),
            ("value", "varchar"),
            ("value_count", "bigint"),
            ("value_rank", "bigint"),
        ],
        [
            ["machine_id", "m-1", "15", "1"],
            ["machine_id", "m-2", "8", "2"],
            ["smile", "false", "11", "1"],
            ["smile", "true", "7", "2"],
        ],
    )

    rows = profiles.profile_rows("iot_lake", "coffees", "2024-06-07", run_id="r1")

    assert [(r["column_name"], r["row_count"], r["null_count"], r["mean"]) for r in rows] == [
        ("machine_id", 23, 0, None),
        ("smile", 23, 5, 0.388),
    ]
    assert json.loads(rows[0]["top_values"]) == [
        {"value": "m-1", "count": 15},
        {"value": "m-2", "count": 8},
    ]
    athena_client = athena.client("athena", region_name="us-east-1")
    ids = athena_client.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    executions = [
        athena_client.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids
    ]
    queries = sorted(e["Query"] for e in executions)
    assert all("FROM iot_lake.coffees" in q and "dt = '2024-06-07'" in q for q in queries)
    assert any("approx_percentile" not in q and "row_number()" in q for q in queries)
    assert all(
        e["ResultConfiguration"]["OutputLocation"].startswith("s3://quality-athena/results/")
        for e in executions
    )


def test_athena_nulls_and_booleans_come_back_typed(athena) -> None:
    queue_result(
        [("passed", "boolean"), ("n", "integer"), ("x", "double"), ("s", "varchar")],
        [["true", "3", "1.5", None], ["false", None, None, "a"]],
    )
    assert get_engine().query("SELECT 1").records() == [
        {"passed": True, "n": 3, "x": 1.5, "s": None},
        {"passed": False, "n": None, "x": None, "s": "a"},
    ]


@pytest.fixture
def athena_server(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> object:
    """As ``athena``, on a moto server (s3fs writes the profile object through it)."""
    import boto3

    lake_on_server(moto_endpoint, monkeypatch, bucket="quality-curated", workgroup=WORKGROUP)
    return boto3


def _profile_objects(s3: object) -> list[str]:
    listed = s3.list_objects_v2(Bucket="quality-curated", Prefix="curated/column_profiles/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_the_profile_task_defers_for_each_query_and_writes_only_at_the_end(
    athena_server,
) -> None:
    """On aws no Athena wait holds a worker slot; a profile is written once, complete."""
    from iot_lake.operators.profile import LakeProfileOperator
    from iot_lake.triggers import LakeAthenaTrigger

    _coffees_table()
    s3 = athena_server.client("s3", region_name="us-east-1")
    task = LakeProfileOperator(task_id="profile_coffees", table="coffees", day="2024-06-07")
    context = {"ti": FakeTaskInstance("profile_coffees"), "run_id": "scheduled__2024-06-08"}

    first = deferral(lambda: task.execute(context))
    assert isinstance(first.trigger, LakeAthenaTrigger)
    queue_result(STATS_COLUMNS, STATS_ROWS)  # what Athena answers the column statistics
    second = deferral(lambda: resume(task, first, context))  # the trigger fired on moto
    assert second.kwargs["pending"] != first.kwargs["pending"]  # the top values
    assert _profile_objects(s3) == []  # nothing written before every result is in
    queue_result(TOP_COLUMNS, TOP_ROWS)
    uri = resume(task, second, context)

    assert uri.startswith("s3://quality-curated/") and "dt=2024-06-07" in uri
    [key] = _profile_objects(s3)
    assert uri.endswith(key)
    body = s3.get_object(Bucket="quality-curated", Key=key)["Body"].read()
    profile = pq.read_table(io.BytesIO(body)).to_pylist()
    assert [(r["column_name"], r["row_count"], r["null_count"], r["run_id"]) for r in profile] == [
        ("machine_id", 23, 0, "scheduled__2024-06-08"),
        ("smile", 23, 5, "scheduled__2024-06-08"),
    ]
    assert json.loads(profile[1]["top_values"]) == [
        {"value": "false", "count": 11}, {"value": "true", "count": 7}]
