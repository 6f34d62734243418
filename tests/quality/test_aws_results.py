"""The `aws` path of quality_results: Parquet to S3 and the partition in Glue (moto server)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from iot_lake import quality
from tests.fixtures.moto import create_bucket


@pytest.fixture
def moto_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The aws backend with its curated bucket on the moto server."""
    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", "s3://quality-lake/curated")
    config.settings.cache_clear()
    create_bucket(moto_endpoint, "quality-lake")
    return moto_endpoint


def test_results_land_in_s3_and_the_partition_in_glue(moto_aws: str) -> None:
    import boto3

    row = quality.CheckRow(
        database_name="iot_lake", table_name="coffees", check_name="id.unique_check",
        column_name="id", check_type="unique", passed=False, observed_value="1",
        expected="= 0", severity="error", dag_id="coffee_lake", task_id="check_coffees",
        run_id="scheduled__2024-06-01T00:00:00+00:00", try_number=1,
        checked_at=datetime(2024, 6, 2, tzinfo=UTC),
    )  # fmt: skip
    uri = quality.record_check_rows([row], "2024-06-01")
    assert uri.startswith("s3://quality-lake/curated/quality_results/dt=2024-06-01/")

    s3 = boto3.client("s3", endpoint_url=moto_aws, region_name="us-east-1")
    key = uri.removeprefix("s3://quality-lake/")
    body = s3.get_object(Bucket="quality-lake", Key=key)["Body"].read()
    stored = pq.read_table(io.BytesIO(body)).to_pylist()
    assert [(r["check_name"], r["passed"]) for r in stored] == [("id.unique_check", False)]

    glue = boto3.client("glue", endpoint_url=moto_aws, region_name="us-east-1")
    table = glue.get_table(DatabaseName="iot_lake", Name="quality_results")["Table"]
    assert table["StorageDescriptor"]["Location"] == "s3://quality-lake/curated/quality_results/"
    partitions = glue.get_partitions(DatabaseName="iot_lake", TableName="quality_results")
    assert [p["Values"] for p in partitions["Partitions"]] == [["2024-06-01"]]
