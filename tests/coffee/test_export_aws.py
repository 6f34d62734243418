"""The `aws` path of the export: MariaDB (real) -> GZIP Parquet in S3 -> Glue partition.

S3 and Glue are the moto server; the rows come from the real MariaDB like on `local`.
"""

from __future__ import annotations

import io
import json
from datetime import datetime

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from iot_lake import config
from iot_lake.coffee import export, table
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


def test_a_day_lands_in_s3_and_glue_and_a_rerun_replaces_it(
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

    first = export.export_day(DAY, START, END, lake=aws_lake)
    registered = table.register_partition(DAY, aws_lake)

    assert (first.exported, first.rejected) == (2, 1)
    key = f"curated/coffees/dt={DAY}/{export.PARQUET_FILE}"
    stored = pq.read_table(io.BytesIO(_object(moto_endpoint, key)))
    assert stored.num_rows == 2
    assert stored.schema.field("coffee_hour").type == pa.timestamp("ms")
    assert stored.schema.field("smile").type == pa.bool_()
    rejects = _object(moto_endpoint, f"curated/coffees_rejects/dt={DAY}/{export.REJECTS_FILE}")
    [reject] = [json.loads(line) for line in rejects.splitlines()]
    assert reject["photo_url"] == "file:///tmp/a.jpg"
    assert "photo_url" in reject["reason"]

    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    partition = glue.get_partition(
        DatabaseName=aws_lake.curated_database, TableName="coffees", PartitionValues=[DAY]
    )["Partition"]
    assert partition["StorageDescriptor"]["Location"].rstrip("/") == (
        f"s3://{BUCKET}/curated/coffees/dt={DAY}"
    )
    assert registered["new_partition"] is True

    # A rerun after a late row: the partition is replaced whole, never appended to.
    coffee_db.insert([{"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 11, 0)}])
    second = export.export_day(DAY, START, END, lake=aws_lake)
    assert (second.exported, second.rejected) == (3, 1)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"curated/coffees/dt={DAY}/")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert pq.read_table(io.BytesIO(_object(moto_endpoint, key))).num_rows == 3
    assert table.register_partition(DAY, aws_lake)["new_partition"] is False
