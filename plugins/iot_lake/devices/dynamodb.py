"""The DynamoDB client of the cold-readings table, on either backend.

On the local backend the client points at ``settings().dynamodb_endpoint`` (dynalite);
on ``aws`` at DynamoDB in ``settings().region``, so code that reads or provisions the
table is the same on both. Shared by ``lake_setup`` and the local rules engine.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

from iot_lake.config import LakeSettings, settings

_LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def _session_kwargs(lake: LakeSettings | None, endpoint: str | None) -> dict[str, Any]:
    if lake is None and endpoint is None:
        lake = settings()
    # An explicit endpoint needs no settings (and so no Airflow connection look-up).
    region = lake.region if lake else os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    kwargs: dict[str, Any] = {
        "region_name": region,
        "config": Config(
            retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=10
        ),
    }
    endpoint = endpoint or (lake.dynamodb_endpoint_url if lake is not None else None)
    if endpoint:
        kwargs["endpoint_url"] = endpoint
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs.update(_LOCAL_CREDENTIALS)
    return kwargs


def dynamodb_client(lake: LakeSettings | None = None, endpoint: str | None = None) -> Any:
    """A DynamoDB client: the local endpoint on the local backend, AWS otherwise."""
    return boto3.client("dynamodb", **_session_kwargs(lake, endpoint))


def dynamodb_resource(lake: LakeSettings | None = None, endpoint: str | None = None) -> Any:
    """The boto3 resource on the same endpoint as :func:`dynamodb_client`."""
    return boto3.resource("dynamodb", **_session_kwargs(lake, endpoint))
