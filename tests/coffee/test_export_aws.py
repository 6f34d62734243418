"""The `aws` path of the export: MariaDB (real) -> GZIP Parquet in S3 -> Glue partition.

S3 and Glue are the moto server; the rows come from the real MariaDB like on `local`.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from iot_lake import config
from iot_lake.coffee import export
from iot_lake.wap import superseded
from tests.coffee.conftest import DAY, END, START
from tests.fixtures.moto import create_bucket

BUCKET = "coffee-lake"


@pytest.fixture
def aws_lake(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> config.LakeSettings:
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", f"s3://{BUCKET}/curated")
    monkeypatch.setenv("IOT_LAKE_PHOTOS_URI", f"s3://{BUCKET}/photos")
    config.settings.cache_clear()
    create_bucket(moto_endpoint, BUCKET)
    return config.settings()


def _object(endpoint: str, key: str) -> bytes:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _key(uri: str, name: str) -> str:
    return f"{uri.removeprefix(f's3://{BUCKET}/').rstrip('/')}/{name}"


def _keys(endpoint: str, prefix: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_a_day_lands_in_s3_and_glue_and_a_rerun_swaps_the_partition(
    coffee_db, aws_lake, moto_endpoint
) -> None:
    photo = f"https://{BUCKET}.s3.amazonaws.com/photos/coffee-machine-01/{DAY}/a.jpg"
    coffee_db.insert(
        [
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 8, 15), "smile": 1},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 9, 0), "has_face": 0},
            # A local file is no object URL on aws: rejected with its reason, not dropped.
            {"photo_url": "file:///tmp/a.jpg", "coffee_hour": datetime(2026, 11, 20, 10, 0)},
        ]
    )
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")

    staged = export.stage_day(DAY, START, END, lake=aws_lake)
    # Staged: the objects sit at a fresh versioned prefix, registered in the staging
    # database only; the curated table has no partition for the day yet.
    assert staged.partition_uri.startswith(f"s3://{BUCKET}/curated/coffees/dt={DAY}/run=")
    assert glue.get_partitions(DatabaseName=aws_lake.curated_database, TableName="coffees")[
        "Partitions"] == []
    in_staging = glue.get_partition(
        DatabaseName=aws_lake.staging_database, TableName="coffees", PartitionValues=[DAY]
    )["Partition"]
    assert in_staging["StorageDescriptor"]["Location"] == staged.partition_uri

    first = export.publish_day(staged, aws_lake)
    assert (first.exported, first.rejected) == (2, 1)
    key = _key(first.partition_uri, export.PARQUET_FILE)
    stored = pq.read_table(io.BytesIO(_object(moto_endpoint, key)))
    assert stored.num_rows == 2
    assert stored.schema.field("coffee_hour").type == pa.timestamp("ms")
    assert stored.schema.field("smile").type == pa.bool_()
    rejects_key = first.rejects_uri.removeprefix(f"s3://{BUCKET}/")
    assert rejects_key.startswith(f"curated/coffee_rejects/dt={DAY}/run=")
    [reject] = pq.read_table(io.BytesIO(_object(moto_endpoint, rejects_key))).to_pylist()
    assert json.loads(reject["raw"])["photo_url"] == "file:///tmp/a.jpg"
    assert "photo_url" in reject["reason"] and reject["source"].startswith("coffees id=")

    partition = glue.get_partition(
        DatabaseName=aws_lake.curated_database, TableName="coffees", PartitionValues=[DAY]
    )["Partition"]
    assert partition["StorageDescriptor"]["Location"].rstrip("/") == first.partition_uri
    assert glue.get_partitions(DatabaseName=aws_lake.staging_database, TableName="coffees")[
        "Partitions"] == []

    # A rerun after a late row: the partition is swapped to a new version whole; the
    # replaced version stays readable until the grace period ends, then lake_setup (or
    # the next publish) deletes it.
    coffee_db.insert([{"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 11, 0)}])
    second = export.export_day(DAY, START, END, lake=aws_lake)
    assert (second.exported, second.rejected) == (3, 1)
    assert second.partition_uri != first.partition_uri
    partition = glue.get_partition(
        DatabaseName=aws_lake.curated_database, TableName="coffees", PartitionValues=[DAY]
    )["Partition"]
    assert partition["StorageDescriptor"]["Location"].rstrip("/") == second.partition_uri
    new_key = _key(second.partition_uri, export.PARQUET_FILE)
    assert pq.read_table(io.BytesIO(_object(moto_endpoint, new_key))).num_rows == 3
    assert key in _keys(moto_endpoint, f"curated/coffees/dt={DAY}/")  # old version kept
    later = datetime.now(UTC) + timedelta(hours=aws_lake.superseded_grace_hours + 1)
    expired = superseded.expire_superseded(aws_lake, now=later)
    assert first.partition_uri.rstrip("/") in {e.rstrip("/") for e in expired}
    assert _keys(moto_endpoint, f"curated/coffees/dt={DAY}/") == [new_key]
    assert _keys(moto_endpoint, "curated/coffees/_superseded/") == []


def test_the_reconciliation_waits_for_athena_in_the_triggerer(
    coffee_db, aws_lake, moto_endpoint, monkeypatch
) -> None:
    """MySQL (real) is counted at once; the lake's count runs on Athena while the task is
    deferred, and the comparison is made when the trigger fires."""
    from iot_lake.coffee.operators import ReconcileWithMySQLOperator
    from iot_lake.coffee.reconcile import ReconciliationError
    from iot_lake.triggers import LakeAthenaTrigger
    from tests.fixtures.deferral import FakeTaskInstance, deferral, resume
    from tests.fixtures.moto import queue_result

    monkeypatch.setenv("IOT_LAKE_QUERY_RESULTS_URI", f"s3://{BUCKET}/athena-results/")
    monkeypatch.setenv("IOT_LAKE_ATHENA_WORKGROUP", "coffee_wg")
    config.settings.cache_clear()
    athena = boto3.client("athena", endpoint_url=moto_endpoint, region_name="us-east-1")
    athena.create_work_group(Name="coffee_wg")
    photo = f"https://{BUCKET}.s3.amazonaws.com/photos/coffee-machine-01/{DAY}/a.jpg"
    coffee_db.insert([
        {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 8, 15)},
        {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 9, 0)},
        {"photo_url": "file:///tmp/a.jpg", "coffee_hour": datetime(2026, 11, 20, 10, 0)},
    ])
    written = export.stage_day(DAY, START, END, lake=config.settings()).as_dict()
    counts = [("lake_rows", "bigint"), ("rejected_rows", "bigint")]

    def reconcile(lake_counts: list[str]) -> dict:
        task = ReconcileWithMySQLOperator(
            task_id="reconcile_with_mysql", written=written, day=DAY, poll_interval=1)
        context = {"ti": FakeTaskInstance("reconcile_with_mysql")}
        deferred = deferral(lambda: task.execute(context))
        assert isinstance(deferred.trigger, LakeAthenaTrigger)
        pending = deferred.kwargs["pending"]
        query = athena.get_query_execution(QueryExecutionId=pending)["QueryExecution"]
        assert f"FROM iot_lake_staging.coffees WHERE dt = '{DAY}'" in query["Query"]
        assert query["WorkGroup"] == "coffee_wg"
        queue_result(counts, [lake_counts])  # what Athena counts (moto runs no SQL)
        return resume(task, deferred, context)  # once the trigger fired, against moto

    assert reconcile(["2", "1"]) == {
        "dt": DAY, "source_rows": 3, "lake_rows": 2, "rejected_rows": 1, "balanced": True}
    with pytest.raises(ReconciliationError, match="MySQL has 3 rows") as failed:
        reconcile(["1", "1"])
    assert written["staged"][0]["location"] in str(failed.value)
