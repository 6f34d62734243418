"""Fixtures of the lake seams: a local lake in tmp_path and moto for the `aws` calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.aws_answers import everywhere


def _declare_aws_lake(monkeypatch: pytest.MonkeyPatch) -> object:
    """`aws`-backend settings, their buckets and Athena workgroup (on whichever moto)."""
    import boto3

    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_RAW_URI", "s3://lake-raw/")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", "s3://lake-curated")
    monkeypatch.setenv("IOT_LAKE_QUERY_RESULTS_URI", "s3://lake-athena/results/")
    monkeypatch.setenv("IOT_LAKE_ATHENA_WORKGROUP", "iot_lake_test")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    config.settings.cache_clear()
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in ("lake-raw", "lake-curated", "lake-athena"):
        s3.create_bucket(Bucket=bucket)
    boto3.client("athena", region_name="us-east-1").create_work_group(
        Name="iot_lake_test",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://lake-athena/results/"}},
    )
    return config.settings()


@pytest.fixture
def aws_lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """`aws`-backend settings with every AWS API served by moto (never real AWS)."""
    from moto import mock_aws

    from iot_lake import config

    with mock_aws(), everywhere():  # answers carry real AWS's server defaults
        yield _declare_aws_lake(monkeypatch)
    config.settings.cache_clear()


@pytest.fixture
def aws_lake_on_server(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> object:
    """:func:`aws_lake` on the moto server, for tests whose objects go through the storage
    seam: s3fs (aiobotocore) cannot reach the in-process ``mock_aws``."""
    return _declare_aws_lake(monkeypatch)
