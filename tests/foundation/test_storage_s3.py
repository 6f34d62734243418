"""On S3, ``atomic_open`` leaves no object behind when the writer fails.

fsspec's buffered files commit on ``close()`` whatever happened (``__exit__`` calls
``close()``, which completes the multipart upload, or PUTs a small buffer): an exception
in the middle of a write would publish a truncated object. Checked on a moto S3 server,
with a file large enough to be sent as a multipart upload and with a small one.
"""

from __future__ import annotations

import boto3
import pytest

from iot_lake import config, storage
from tests.fixtures.moto import create_bucket

BUCKET = "lake-atomic"
PART = 5 * 2**20  # S3's smallest part (all but the last)


@pytest.fixture
def s3_lake(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    config.settings.cache_clear()
    create_bucket(moto_endpoint, BUCKET)
    # Parts of 5 MiB (s3fs's default is 50 MiB): the test's file is sent in several parts.
    fs, _ = storage.filesystem(f"s3://{BUCKET}/x")
    monkeypatch.setattr(fs, "default_block_size", PART)
    return moto_endpoint


def _client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def _keys(endpoint: str) -> list[str]:
    listed = _client(endpoint).list_objects_v2(Bucket=BUCKET)
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.mark.parametrize("size", [2 * PART + 1234, 1000], ids=["multipart", "one-put"])
def test_a_failed_write_leaves_no_object(s3_lake: str, size: int) -> None:
    uri = f"s3://{BUCKET}/raw/object.gz"
    with pytest.raises(RuntimeError, match="writer died"), storage.atomic_open(uri) as handle:
        handle.write(b"x" * size)  # parts already uploaded when size > PART
        raise RuntimeError("writer died")
    assert _keys(s3_lake) == []
    # and no multipart upload is left open (billed storage nobody sees)
    assert _client(s3_lake).list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_failed_rewrite_keeps_the_old_object(s3_lake: str) -> None:
    uri = f"s3://{BUCKET}/raw/object.gz"
    _client(s3_lake).put_object(Bucket=BUCKET, Key="raw/object.gz", Body=b"old")
    with pytest.raises(RuntimeError), storage.atomic_open(uri) as handle:
        handle.write(b"y" * (PART + 1))
        raise RuntimeError("writer died")
    body = _client(s3_lake).get_object(Bucket=BUCKET, Key="raw/object.gz")["Body"].read()
    assert body == b"old"


def test_a_finished_multipart_write_appears_whole(s3_lake: str) -> None:
    uri = f"s3://{BUCKET}/raw/big.bin"
    payload = bytes(range(256)) * (2 * PART // 256 + 7)
    with storage.atomic_open(uri) as handle:
        handle.write(payload)
    body = _client(s3_lake).get_object(Bucket=BUCKET, Key="raw/big.bin")["Body"].read()
    assert body == payload


def test_delete_tree_removes_a_prefix_or_one_object_and_nothing_beside(s3_lake: str) -> None:
    client = _client(s3_lake)
    for key in ("t/dt=1/run=1/a.parquet", "t/dt=1/run=1/b/c.parquet", "t/dt=1/run=10/a.parquet",
                "t/_superseded/x.json", "t/_superseded/x.json.bak"):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    storage.delete_tree(f"s3://{BUCKET}/t/dt=1/run=1/")
    storage.delete_tree(f"s3://{BUCKET}/t/_superseded/x.json")
    storage.delete_tree(f"s3://{BUCKET}/t/missing/")  # missing: nothing to do
    assert _keys(s3_lake) == ["t/_superseded/x.json.bak", "t/dt=1/run=10/a.parquet"]


def test_small_json_documents_round_trip_and_list_fresh(s3_lake: str) -> None:
    ledger = f"s3://{BUCKET}/t/_superseded"
    assert storage.list_dir(ledger) == []
    storage.write_json(f"{ledger}/b.json", {"n": 2})
    assert storage.list_dir(ledger) == [f"{ledger}/b.json"]
    # written by another process (another client): the next listing sees it
    _client(s3_lake).put_object(Bucket=BUCKET, Key="t/_superseded/a.json", Body=b'{"n": 1}')
    assert storage.list_dir(ledger) == [f"{ledger}/a.json", f"{ledger}/b.json"]
    assert storage.read_json(f"{ledger}/a.json") == {"n": 1}
    assert storage.read_json(f"{ledger}/b.json") == {"n": 2}
    assert storage.exists(f"{ledger}/a.json") and not storage.exists(f"{ledger}/c.json")
