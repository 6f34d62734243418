"""The table of cold readings, keyed weather_station (HASH) + time (RANGE)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from iot_lake.provisioning import documents
from iot_lake.provisioning.report import Change, created, unchanged, updated

KIND = "dynamodb table"


def desired_table(values: dict[str, str], *, local: bool = False) -> dict[str, Any]:
    table = documents.load("dynamodb/cold_readings_table.json", values)
    if local:  # local DynamoDB-compatible endpoints have no KMS to encrypt with
        table.pop("SSESpecification", None)
    return table


def ensure_table(dynamodb: Any, want: dict[str, Any], dry_run: bool = False) -> Change:
    """Create the table, or bring its billing mode and encryption in line with ``want``.

    Keys cannot change on a live table: a table with other keys is an error that says so.
    """
    name = want["TableName"]
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        if not dry_run:
            dynamodb.create_table(**want)
            dynamodb.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        return created(KIND, name)

    def key_of(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
        return sorted((k["AttributeName"], k["KeyType"]) for k in schema)

    if key_of(table["KeySchema"]) != key_of(want["KeySchema"]):
        raise RuntimeError(
            f"dynamodb table {name} has keys {key_of(table['KeySchema'])}, expected "
            f"{key_of(want['KeySchema'])}; keys cannot be changed in place: migrate the data "
            "to a new table and set IOT_LAKE_COLD_READINGS_TABLE to its name"
        )
    changes: dict[str, Any] = {}
    billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if billing != want["BillingMode"]:
        changes["BillingMode"] = want["BillingMode"]
    sse = want.get("SSESpecification")
    if sse and sse.get("Enabled"):
        have = table.get("SSEDescription", {})
        if have.get("Status") not in ("ENABLED", "ENABLING") or have.get("SSEType") != sse.get(
            "SSEType"
        ):
            changes["SSESpecification"] = sse
    if not changes:
        return unchanged(KIND, name)
    if not dry_run:
        dynamodb.update_table(TableName=name, **changes)
    return updated(KIND, name, *sorted(changes))
