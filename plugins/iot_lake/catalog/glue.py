"""The ``aws`` catalog: the Glue Data Catalog through the Amazon provider's hook."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from iot_lake.catalog import (
    Catalog,
    check_partition_values,
    managed_equal,
    partition_storage,
)

log = logging.getLogger(__name__)


class GlueCatalog(Catalog):
    """The Glue Data Catalog through the Amazon provider's hook (its boto3 client)."""

    def __init__(self, aws_conn_id: str | None = "aws_default", region: str | None = None):
        from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

        self.hook = GlueCatalogHook(aws_conn_id=aws_conn_id, region_name=region)

    @property
    def client(self) -> Any:
        return self.hook.get_conn()

    def ensure_database(self, name: str, description: str = "") -> bool:
        try:
            self.client.create_database(DatabaseInput={"Name": name, "Description": description})
        except self.client.exceptions.AlreadyExistsException:
            return False
        return True

    def list_databases(self) -> list[str]:
        pages = self.client.get_paginator("get_databases").paginate()
        return sorted(d["Name"] for page in pages for d in page["DatabaseList"])

    def list_tables(self, db: str) -> list[str]:
        try:
            pages = self.client.get_paginator("get_tables").paginate(DatabaseName=db)
            return sorted(t["Name"] for page in pages for t in page["TableList"])
        except self.client.exceptions.EntityNotFoundException:
            return []

    def get_table(self, db: str, name: str) -> dict[str, Any] | None:
        try:
            return self.client.get_table(DatabaseName=db, Name=name)["Table"]
        except self.client.exceptions.EntityNotFoundException:
            return None

    def _create_table(self, db: str, table_input: dict[str, Any]) -> bool:
        try:
            _retry_concurrent(
                lambda: self.client.create_table(DatabaseName=db, TableInput=table_input)
            )
        except self.client.exceptions.AlreadyExistsException:
            return False
        return True

    def _update_table(self, db: str, table_input: dict[str, Any]) -> None:
        _retry_concurrent(
            lambda: self.client.update_table(DatabaseName=db, TableInput=table_input)
        )

    def get_partitions(self, db: str, table: str) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("get_partitions").paginate(
            DatabaseName=db, TableName=table
        )
        out = [p for page in pages for p in page["Partitions"]]
        out.sort(key=lambda p: p["Values"])
        return out

    def get_partition(self, db: str, table: str, values: list[str]) -> dict[str, Any] | None:
        try:
            return self.client.get_partition(
                DatabaseName=db, TableName=table, PartitionValues=values
            )["Partition"]
        except self.client.exceptions.EntityNotFoundException:
            return None

    def put_partition(
        self,
        db: str,
        table: str,
        values: list[str],
        location: str,
        storage_descriptor: dict[str, Any] | None = None,
    ) -> str | None:
        """Create first, update if it exists: never read-then-create, which two writers of
        one day race into ``AlreadyExistsException``. ``ConcurrentModificationException``
        is retried; an existing partition that already matches is left alone.
        """
        definition = self.require_table(db, table)
        check_partition_values(definition, values)
        partition_input = {
            "Values": [str(v) for v in values],
            "StorageDescriptor": partition_storage(definition, location, storage_descriptor),
        }
        client = self.client
        try:
            _retry_concurrent(
                lambda: client.create_partition(
                    DatabaseName=db, TableName=table, PartitionInput=partition_input
                )
            )
            return None
        except client.exceptions.AlreadyExistsException:
            pass
        previous = self.get_partition(db, table, values)
        if previous is None:  # deleted in between: create it again
            return self.put_partition(db, table, values, location, storage_descriptor)
        old_location = previous["StorageDescriptor"]["Location"]
        if managed_equal(partition_input["StorageDescriptor"], previous["StorageDescriptor"]):
            return old_location
        _retry_concurrent(
            lambda: client.update_partition(
                DatabaseName=db,
                TableName=table,
                PartitionValueList=partition_input["Values"],
                PartitionInput=partition_input,
            )
        )
        return old_location

    def delete_partition(self, db: str, table: str, values: list[str]) -> bool:
        try:
            self.client.delete_partition(
                DatabaseName=db, TableName=table, PartitionValues=values
            )
        except self.client.exceptions.EntityNotFoundException:
            return False
        return True



CONCURRENT_ATTEMPTS = 8
_T = Any


def _retry_concurrent(call: Callable[[], _T], attempts: int = CONCURRENT_ATTEMPTS) -> _T:
    """Run a Glue write, retrying ``ConcurrentModificationException`` with jittered backoff.

    Glue answers it when two writers change one table at once (the parallel check and
    profile listeners all write ``quality_results``); botocore's retry modes do not retry
    it. About 13 s in all before the error is raised.
    """
    from botocore.exceptions import ClientError

    for attempt in range(attempts):
        try:
            return call()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code != "ConcurrentModificationException" or attempt == attempts - 1:
                raise
            delay = min(4.0, 0.05 * 2**attempt) * (0.5 + random.random())
            log.info("catalog: concurrent modification, retrying in %.2f s", delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
