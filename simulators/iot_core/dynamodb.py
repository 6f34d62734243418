"""The DynamoDBv2 rule action: one item per matching message, written with boto3.

On the local backend the client points at ``settings().dynamodb_endpoint`` (dynalite, see
``dynamodb_local``); on ``aws`` at DynamoDB itself, so code that reads the table is the
same on both backends. Numbers become ``Decimal`` as boto3 requires; nested objects and
arrays become maps and lists, as IoT Core's DynamoDBv2 action writes them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

# The client lives in the library (lake_setup provisions the same table with it).
from iot_lake.devices.dynamodb import dynamodb_client, dynamodb_resource

__all__ = [
    "COLD_READINGS_KEYS",
    "DynamoDBTableWriter",
    "ItemError",
    "dynamodb_client",
    "dynamodb_resource",
    "ensure_table",
    "to_attribute_value",
]

log = logging.getLogger(__name__)

COLD_READINGS_KEYS = (("weather_station", "HASH"), ("time", "RANGE"))


class ItemError(ValueError):
    """A message cannot become an item of the table (e.g. a key attribute is missing)."""


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
