"""The DynamoDBv2 rule action: one item per matching message, written with boto3.

On the local backend the client points at ``settings().dynamodb_endpoint`` (dynalite, see
``dynamodb_local``); on ``aws`` at DynamoDB itself, so code that reads the table is the
same on both backends. Numbers become ``Decimal`` as boto3 requires; nested objects and
arrays become maps and lists, as IoT Core's DynamoDBv2 action writes them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config

from iot_lake.config import LakeSettings, settings

log = logging.getLogger(__name__)

COLD_READINGS_KEYS = (("weather_station", "HASH"), ("time", "RANGE"))
_LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


class ItemError(ValueError):
    """A message cannot become an item of the table (e.g. a key attribute is missing)."""


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
    if endpoint or (lake is not None and lake.is_local):
        kwargs["endpoint_url"] = endpoint or lake.dynamodb_endpoint  # type: ignore[union-attr]
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs.update(_LOCAL_CREDENTIALS)
    return kwargs


def dynamodb_client(lake: LakeSettings | None = None, endpoint: str | None = None) -> Any:
    """A DynamoDB client: the local endpoint on the local backend, AWS otherwise."""
    return boto3.client("dynamodb", **_session_kwargs(lake, endpoint))


def dynamodb_resource(lake: LakeSettings | None = None, endpoint: str | None = None) -> Any:
    """The boto3 resource on the same endpoint as :func:`dynamodb_client`."""
    return boto3.resource("dynamodb", **_session_kwargs(lake, endpoint))


def ensure_table(
    client: Any, name: str, keys: Sequence[tuple[str, str]] = COLD_READINGS_KEYS
) -> bool:
    """Create the table (string keys, on-demand) unless it exists; True if created."""
    existing = client.list_tables().get("TableNames", [])
    if name in existing:
        return False
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": attr, "KeyType": kind} for attr, kind in keys],
        AttributeDefinitions=[{"AttributeName": attr, "AttributeType": "S"} for attr, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    waiter = client.get_waiter("table_exists")
    waiter.wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    log.info("created DynamoDB table %s", name)
    return True


def to_attribute_value(value: Any) -> Any:
    """Python JSON value -> boto3 resource value (floats as Decimal)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: to_attribute_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_attribute_value(item) for item in value]
    return value


class DynamoDBTableWriter:
    """Puts rule results into one table; a batch is written with BatchWriteItem."""

    def __init__(self, resource: Any, table_name: str) -> None:
        self.table_name = table_name
        self._table = resource.Table(table_name)
        self.key_names = [entry["AttributeName"] for entry in self._table.key_schema]

    def item(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The item for one rule result; raise :class:`ItemError` if a key is missing."""
        for key in self.key_names:
            if key not in document or document[key] is None or document[key] == "":
                raise ItemError(
                    f"the rule result has no value for key attribute {key!r} of table "
                    f"{self.table_name}"
                )
        return to_attribute_value(dict(document))

    def put_many(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Write items; the last one wins when two share a key (as repeated PutItems)."""
        with self._table.batch_writer(overwrite_by_pkeys=self.key_names) as batch:
            for item in items:
                batch.put_item(Item=dict(item))
