"""The catalog seam: Glue Data Catalog on `aws`, Glue-shaped JSON beside the lake on `local`.

Both implementations speak Glue's own shapes (``TableInput``, ``Table``, ``Partition``)
so that table definitions kept as data under ``include/glue/`` are deployed unchanged and
every reader (the local SQL engine, the dashboard, the checks) sees the same description.

Local layout under ``settings().uri("catalog")``::

    <db>/_database.json
    <db>/<table>/table.json
    <db>/<table>/partitions/<v1>/<v2>/.../partition.json     one object per partition

One object per partition lets concurrent runs of different days register partitions
without a read-modify-write race; every object is written atomically.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from iot_lake import config
from iot_lake.config import LakeSettings
from iot_lake.storage import atomic_open, filesystem, join

log = logging.getLogger(__name__)

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
JSON_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
JSON_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"

PARTITION_FILE = "partition.json"

# Keys of a Glue Table that are not part of a TableInput (read-only metadata).
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)


def table_format(table: dict[str, Any]) -> str:
    """``parquet``, ``json`` or ``text`` (one string column per line): how objects are stored."""
    sd = table.get("StorageDescriptor", {})
    serde = sd.get("SerdeInfo", {}).get("SerializationLibrary", "")
    classification = (table.get("Parameters") or {}).get("classification", "")
    if "parquet" in serde.lower() or classification == "parquet":
        return "parquet"
    if "json" in serde.lower() or classification == "json":
        return "json"
    if serde == TEXT_SERDE or classification == "text":
        return "text"
    from iot_lake.errors import CatalogError

    raise CatalogError(
        f"table {table.get('Name')}: unsupported storage (serde {serde!r}, "
        f"classification {classification!r}); expected Parquet, JSON or text"
    )


def projection(table: dict[str, Any]) -> dict[str, str] | None:
    """The table's partition projection parameters (``projection.*``, the location
    template), or None when its partitions are registered one by one."""
    parameters = table.get("Parameters") or {}
    if str(parameters.get("projection.enabled", "")).lower() != "true":
        return None
    return {
        k: v
        for k, v in parameters.items()
        if k.startswith("projection.") or k == "storage.location.template"
    }


def parquet_table_input(
    name: str,
    columns: list[tuple[str, str]] | list[dict[str, str]],
    location: str,
    partition_keys: list[tuple[str, str]] | list[dict[str, str]] = (),  # type: ignore[assignment]
    compression: str = "GZIP",
    description: str = "",
) -> dict[str, Any]:
    """A Glue ``TableInput`` for an external Parquet table (the curated tables' shape)."""
    return {
        "Name": name,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "parquet.compression": compression.upper(),
            "EXTERNAL": "TRUE",
        },
        "StorageDescriptor": {
            "Columns": [_column(c) for c in columns],
            "Location": location.rstrip("/") + "/",
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {}},
        },
        "PartitionKeys": [_column(c) for c in partition_keys],
    }


def _column(column: tuple[str, str] | dict[str, str]) -> dict[str, str]:
    if isinstance(column, dict):
        return {"Name": column["Name"], "Type": column["Type"]}
    return {"Name": column[0], "Type": column[1]}


def managed_equal(wanted: Any, current: Any) -> bool:
    """Whether ``current`` (as the catalog returns it) already is what ``wanted`` declares.

    Only what the definition manages is compared: keys of ``wanted`` objects, recursively;
    lists item by item and of the same length (a removed column is a change). Everything
    Glue adds on its own (``Retention: 0``, ``StorageDescriptor.Compressed``,
    ``NumberOfBuckets: -1``, ``CreatedBy``, ``VersionId``, SerDe defaults...) is ignored, and
    an empty value equals an absent one (Glue drops an empty ``Description``).
    """
    if isinstance(wanted, dict):
        if current is None or current == {}:
            return all(_empty(value) for value in wanted.values())
        if not isinstance(current, dict):
            return False
        return all(managed_equal(value, current.get(key)) for key, value in wanted.items())
    if isinstance(wanted, list):
        if current is None:
            return not wanted
        if not isinstance(current, list) or len(current) != len(wanted):
            return False
        return all(managed_equal(w, c) for w, c in zip(wanted, current, strict=True))
    if _empty(wanted) and _empty(current):
        return True
    return wanted == current


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def table_input_of(table: dict[str, Any]) -> dict[str, Any]:
    """The ``TableInput`` part of a Glue ``Table`` (drops read-only metadata)."""
    return {k: copy.deepcopy(table[k]) for k in _TABLE_INPUT_KEYS if k in table}


def _normalize_location(location: str) -> str:
    return location.rstrip("/") + "/"


class Catalog(ABC):
    """Databases, tables and partitions in Glue's shapes."""

    @abstractmethod
    def ensure_database(self, name: str, description: str = "") -> bool:
        """Create database ``name`` if missing; True if it was created."""

    @abstractmethod
    def get_table(self, db: str, name: str) -> dict[str, Any] | None:
        """The Glue ``Table`` or None."""

    @abstractmethod
    def list_tables(self, db: str) -> list[str]:
        """Names of the tables of ``db`` (empty if the database does not exist)."""

    @abstractmethod
    def list_databases(self) -> list[str]:
        """Names of the databases."""

    @abstractmethod
    def _create_table(self, db: str, table_input: dict[str, Any]) -> bool:
        """Create the table; False if it already exists (created by a concurrent writer)."""

    @abstractmethod
    def _update_table(self, db: str, table_input: dict[str, Any]) -> None: ...

    def upsert_table(self, db: str, table_input: dict[str, Any]) -> bool:
        """Create or update a table from a ``TableInput``; True if anything changed."""
        if "Name" not in table_input:
            from iot_lake.errors import CatalogError

            raise CatalogError(f"TableInput for database {db} has no Name")
        self.ensure_database(db)
        wanted = table_input_of(table_input)
        current = self.get_table(db, wanted["Name"])
        if current is None:
            if self._create_table(db, wanted):
                log.info("catalog: created table %s.%s", db, wanted["Name"])
                return True
            current = self.require_table(db, wanted["Name"])  # another writer created it
        if managed_equal(wanted, table_input_of(current)):
            return False
        self._update_table(db, wanted)
        log.info("catalog: updated table %s.%s", db, wanted["Name"])
        return True

    @abstractmethod
    def get_partitions(self, db: str, table: str) -> list[dict[str, Any]]:
        """Every partition of a table (Glue ``Partition`` shape: Values, StorageDescriptor)."""

    @abstractmethod
    def get_partition(self, db: str, table: str, values: list[str]) -> dict[str, Any] | None:
        """One partition or None."""

    @abstractmethod
    def put_partition(
        self,
        db: str,
        table: str,
        values: list[str],
        location: str,
        storage_descriptor: dict[str, Any] | None = None,
    ) -> str | None:
        """Add a partition or point an existing one at ``location``.

        The partition's storage descriptor is the table's (Glue's ``InheritFromTable``)
        unless one is given. Returns the previous location (None if the partition is new)
        so a caller swapping a partition can delete the old objects afterwards.
        """

    @abstractmethod
    def delete_partition(self, db: str, table: str, values: list[str]) -> bool:
        """Remove a partition; True if it existed."""

    def require_table(self, db: str, name: str) -> dict[str, Any]:
        table = self.get_table(db, name)
        if table is None:
            from iot_lake.errors import CatalogError

            raise CatalogError(
                f"table {db}.{name} is not in the catalog; run the DAG that creates it "
                "(weather_lake crawls raw data; lake_setup registers the curated tables)"
            )
        return table


def _comparable(table_input: dict[str, Any]) -> str:
    return json.dumps(table_input, sort_keys=True, default=str)


def _partition_storage(
    table: dict[str, Any], location: str, storage_descriptor: dict[str, Any] | None
) -> dict[str, Any]:
    sd = copy.deepcopy(storage_descriptor or table.get("StorageDescriptor", {}))
    sd["Location"] = _normalize_location(location)
    return sd


class LocalCatalog(Catalog):
    """Glue-shaped JSON definitions stored under a URI (a directory or any fsspec store)."""

    def __init__(self, root_uri: str) -> None:
        self.root = root_uri.rstrip("/")
        self.fs, self.root_path = filesystem(self.root)

    def _uri(self, *parts: str) -> str:
        return join(self.root, *parts)

    def _read(self, *parts: str) -> dict[str, Any] | None:
        path = join(self.root_path, *parts)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as handle:
            return json.loads(handle.read())

    def _write(self, document: dict[str, Any], *parts: str) -> None:
        data = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
        with atomic_open(self._uri(*parts)) as handle:
            handle.write(data)

    def ensure_database(self, name: str, description: str = "") -> bool:
        if self._read(name, "_database.json") is not None:
            return False
        self._write(
            {"Name": name, "Description": description, "CreateTime": _now()},
            name,
            "_database.json",
        )
        return True

    def list_databases(self) -> list[str]:
        if not self.fs.exists(self.root_path):
            return []
        return sorted(
            p.rstrip("/").rsplit("/", 1)[-1]
            for p in self.fs.ls(self.root_path, detail=False)
            if self.fs.exists(join(p, "_database.json"))
        )

    def list_tables(self, db: str) -> list[str]:
        base = join(self.root_path, db)
        if not self.fs.exists(base):
            return []
        return sorted(
            p.rstrip("/").rsplit("/", 1)[-1]
            for p in self.fs.ls(base, detail=False)
            if self.fs.exists(join(p, "table.json"))
        )

    def get_table(self, db: str, name: str) -> dict[str, Any] | None:
        return self._read(db, name, "table.json")

    def _create_table(self, db: str, table_input: dict[str, Any]) -> bool:
        now = _now()
        table = {**table_input, "DatabaseName": db, "CreateTime": now, "UpdateTime": now}
        self._write(table, db, table_input["Name"], "table.json")
        return True

    def _update_table(self, db: str, table_input: dict[str, Any]) -> None:
        current = self.get_table(db, table_input["Name"]) or {}
        table = {
            **table_input,
            "DatabaseName": db,
            "CreateTime": current.get("CreateTime", _now()),
            "UpdateTime": _now(),
        }
        self._write(table, db, table_input["Name"], "table.json")

    @staticmethod
    def _partition_file(values: list[str]) -> str:
        for value in values:
            if not value or "/" in value or "%" in value or value.startswith((".", "_")):
                from iot_lake.errors import CatalogError

                raise CatalogError(
                    f"partition value {value!r} cannot be stored in the local catalog "
                    "(empty, or contains '/' or '%', or starts with '.' or '_')"
                )
        return "/".join([*values, PARTITION_FILE])

    def get_partitions(self, db: str, table: str) -> list[dict[str, Any]]:
        base = join(self.root_path, db, table, "partitions")
        if not self.fs.exists(base):
            return []
        out = []
        for path in self.fs.find(base):
            if path.rsplit("/", 1)[-1] != PARTITION_FILE:
                continue
            with self.fs.open(path, "rb") as handle:
                out.append(json.loads(handle.read()))
        out.sort(key=lambda p: p["Values"])
        return out

    def get_partition(self, db: str, table: str, values: list[str]) -> dict[str, Any] | None:
        return self._read(db, table, "partitions", self._partition_file(values))

    def put_partition(
        self,
        db: str,
        table: str,
        values: list[str],
        location: str,
        storage_descriptor: dict[str, Any] | None = None,
    ) -> str | None:
        definition = self.require_table(db, table)
        _check_values(definition, values)
        previous = self.get_partition(db, table, values)
        old_location = previous["StorageDescriptor"]["Location"] if previous else None
        partition = {
            "DatabaseName": db,
            "TableName": table,
            "Values": [str(v) for v in values],
            "StorageDescriptor": _partition_storage(definition, location, storage_descriptor),
            "CreationTime": previous.get("CreationTime", _now()) if previous else _now(),
            "LastAnalyzedTime": _now(),
        }
        if previous and _comparable(
            {k: v for k, v in previous.items() if k not in ("CreationTime", "LastAnalyzedTime")}
        ) == _comparable(
            {k: v for k, v in partition.items() if k not in ("CreationTime", "LastAnalyzedTime")}
        ):
            return old_location
        self._write(partition, db, table, "partitions", self._partition_file(values))
        return old_location

    def delete_partition(self, db: str, table: str, values: list[str]) -> bool:
        path = join(self.root_path, db, table, "partitions", self._partition_file(values))
        if not self.fs.exists(path):
            return False
        self.fs.rm(path)
        return True


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
        _check_values(definition, values)
        partition_input = {
            "Values": [str(v) for v in values],
            "StorageDescriptor": _partition_storage(definition, location, storage_descriptor),
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


def _check_values(table: dict[str, Any], values: list[str]) -> None:
    keys = [k["Name"] for k in table.get("PartitionKeys", [])]
    if len(keys) != len(values):
        from iot_lake.errors import CatalogError

        raise CatalogError(
            f"table {table.get('Name')} is partitioned by {keys}; got values {values}"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def get_catalog(settings: LakeSettings | None = None) -> Catalog:
    """The catalog of the configured backend (read at call time, never at DAG parse)."""
    lake = settings or config.settings()
    if lake.is_local:
        return LocalCatalog(lake.uri("catalog"))
    return GlueCatalog(aws_conn_id=lake.aws_conn_id, region=lake.region)
