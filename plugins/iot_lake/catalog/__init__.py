"""The catalog seam: Glue Data Catalog on `aws`, Glue-shaped JSON beside the lake on `local`.

Both implementations speak Glue's own shapes (``TableInput``, ``Table``, ``Partition``)
so that table definitions kept as data under ``include/glue/`` are deployed unchanged and
every reader (the local SQL engine, the dashboard, the checks) sees the same description.

This module holds the interface (:class:`Catalog`), the helpers on Glue's table shapes
that callers and both implementations use, and the factory :func:`get_catalog`, the one
place that chooses between :mod:`iot_lake.catalog.local` (``LocalCatalog``) and
:mod:`iot_lake.catalog.glue` (``GlueCatalog``).
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from typing import Any

from iot_lake import config
from iot_lake.config import LakeSettings

log = logging.getLogger(__name__)

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
JSON_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
JSON_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"

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


def partition_storage(
    table: dict[str, Any], location: str, storage_descriptor: dict[str, Any] | None
) -> dict[str, Any]:
    """A partition's storage descriptor: the table's (or the one given) at ``location``."""
    sd = copy.deepcopy(storage_descriptor or table.get("StorageDescriptor", {}))
    sd["Location"] = _normalize_location(location)
    return sd


def check_partition_values(table: dict[str, Any], values: list[str]) -> None:
    """Refuse ``values`` that do not match the table's partition keys one for one."""
    keys = [k["Name"] for k in table.get("PartitionKeys", [])]
    if len(keys) != len(values):
        from iot_lake.errors import CatalogError

        raise CatalogError(
            f"table {table.get('Name')} is partitioned by {keys}; got values {values}"
        )


def get_catalog(settings: LakeSettings | None = None) -> Catalog:
    """The catalog of the configured backend (read at call time, never at DAG parse)."""
    lake = settings or config.settings()
    if lake.is_local:
        from iot_lake.catalog.local import LocalCatalog

        return LocalCatalog(lake.uri("catalog"))
    from iot_lake.catalog.glue import GlueCatalog

    return GlueCatalog(aws_conn_id=lake.aws_conn_id, region=lake.region)
