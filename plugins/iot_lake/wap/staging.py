"""Staging: where a new version of a partition is written, and its registration.

Every writer goes through here: :func:`stage_partition` for a SELECT (the engine's
:meth:`~iot_lake.engine.Engine.write_parquet`), :func:`staged_version` + :func:`register_staged`
for a version written some other way (the coffee export's pyarrow writer, an Athena
UNLOAD the operator waited for). A staged version is registered as the same partition of
the same table in the staging database, where the audit reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from iot_lake import config, storage
from iot_lake.catalog import Catalog, get_catalog, table_format, table_input_of
from iot_lake.config import LakeSettings
from iot_lake.wap import superseded
from iot_lake.wap.superseded import new_run_id, same_location

log = logging.getLogger(__name__)

STAGING_DIR = "_staging"


@dataclass(frozen=True)
class StagedPartition:
    """A written, not yet published partition version (plain types: it travels as XCom)."""

    database: str
    table: str
    values: list[str]
    location: str
    staging_database: str
    rows: int | None = None
    keys: list[str] = field(default_factory=lambda: ["dt"])

    @property
    def staging_table(self) -> str:
        return f"{self.staging_database}.{self.table}"

    @property
    def partition(self) -> str:
        return "/".join(f"{k}={v}" for k, v in zip(self.keys, self.values, strict=True))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: StagedPartition | dict[str, Any]) -> StagedPartition:
        """The version itself, or rebuilt from its XCom form (:meth:`as_dict`)."""
        if isinstance(value, StagedPartition):
            return value
        return cls(**{k: value[k] for k in cls.__dataclass_fields__ if k in value})

    def describe(self) -> str:
        """Where to look at it: the task logs and failure messages print this."""
        return (
            f"{self.location} (partition {self.partition} of {self.staging_table}; "
            f"query it with SELECT ... FROM {self.staging_table} WHERE "
            + " AND ".join(f"{k} = '{v}'" for k, v in zip(self.keys, self.values, strict=True))
            + ")"
        )


def partition_keys(table: dict[str, Any]) -> list[str]:
    return [k["Name"] for k in table.get("PartitionKeys") or []]


def partition_location(table: dict[str, Any], values: list[str]) -> str:
    """``<table location>/k1=v1/...``: where the published partition lives in a directory."""
    parts = (f"{k}={v}" for k, v in zip(partition_keys(table), values, strict=True))
    return storage.join(table["StorageDescriptor"]["Location"], *parts)


def swaps_directories(table: dict[str, Any]) -> bool:
    """Whether a publish of ``table`` renames directories (the table is in a directory).
    In an object store (S3 on either backend) it swaps the catalog's partition location."""
    return storage.in_directory_store(table["StorageDescriptor"]["Location"])


def stage_location(table: dict[str, Any], values: list[str], run_id: str) -> str:
    """Where a new version of a partition is written (see :mod:`iot_lake.wap`)."""
    parts = [f"{k}={v}" for k, v in zip(partition_keys(table), values, strict=True)]
    base = table["StorageDescriptor"]["Location"]
    if swaps_directories(table):
        return storage.join(base, STAGING_DIR, *parts, f"run={run_id}")
    return storage.join(base, *parts, f"run={run_id}") + "/"


def target_table(
    catalog: Catalog, db: str, table_name: str, values: list[str]
) -> dict[str, Any]:
    """The catalog entry of a Parquet table a partition ``values`` is written to."""
    from iot_lake.errors import CatalogError

    table = catalog.require_table(db, table_name)
    if table_format(table) != "parquet":
        raise CatalogError(f"{db}.{table_name} is not a Parquet table")
    keys = partition_keys(table)
    if len(keys) != len(values):
        raise CatalogError(f"{db}.{table_name} is partitioned by {keys}; got {values}")
    return table


def compression_of(table: dict[str, Any], lake: LakeSettings) -> str:
    """The table's Parquet codec (its ``parquet.compression``, else the lake's)."""
    return (
        (table.get("Parameters") or {}).get("parquet.compression") or lake.parquet_compression
    ).upper()


@contextmanager
def staged_version(table: dict[str, Any], values: list[str], run_id: str) -> Iterator[str]:
    """The location to write a new version of a partition at; a failed write (the block
    raises) leaves nothing there. Register what was written with :func:`register_staged`."""
    location = stage_location(table, values, run_id)
    try:
        yield location
    except BaseException:
        storage.delete_tree(location)
        if swaps_directories(table):
            storage.remove_empty_parents(location, stop=STAGING_DIR)
        raise


def stage_partition(
    select_sql: str,
    db: str,
    table_name: str,
    values: list[str],
    settings: LakeSettings | None = None,
    database: str | None = None,
    run_id: str | None = None,
) -> StagedPartition:
    """Write the rows of an Athena SELECT as a new, unpublished version of a partition.

    The SELECT yields the table's data columns (not its partition keys). The version is
    registered in the staging database (``lake.staging_database``) where the audit reads
    it; readers of ``db.table_name`` still see the published version. A failed write
    leaves nothing staged.
    """
    from iot_lake.engine import get_engine

    lake = settings or config.settings()
    catalog = get_catalog(lake)
    table = target_table(catalog, db, table_name, values)
    try:
        with staged_version(table, values, run_id or new_run_id()) as location:
            rows = get_engine(lake).write_parquet(
                select_sql, location, compression=compression_of(table, lake),
                database=database or db,
            )
    except Exception as err:
        err.add_note(
            f"writing {db}.{table_name} partition {values} failed; "
            "the published partition is unchanged"
        )
        raise
    return register_staged(lake, db, table, values, location, rows=rows, catalog=catalog)


def register_staged(
    lake: LakeSettings,
    database: str,
    table: dict[str, Any],
    values: list[str],
    location: str,
    rows: int | None = None,
    catalog: Catalog | None = None,
) -> StagedPartition:
    """Make a written version the staged partition, where the audit reads it."""
    catalog = catalog or get_catalog(lake)
    staging = lake.staging_database
    catalog.ensure_database(staging, "iot-lake staged partitions: written, audited, not published")
    catalog.upsert_table(staging, table_input_of(table))
    previous = catalog.put_partition(staging, table["Name"], values, location)
    if previous and not same_location(previous, location):
        # An earlier version that was never published (its audit failed): kept for the
        # grace period from now, then expired like a superseded one.
        superseded.record(table, values, previous, reason="restaged")
    staged = StagedPartition(
        database=database,
        table=table["Name"],
        values=[str(v) for v in values],
        location=location,
        staging_database=staging,
        rows=rows,
        keys=partition_keys(table),
    )
    log.info("staged %s.%s %s: %s", database, table["Name"], values, staged.describe())
    return staged


def record_unload_prefix(table: dict[str, Any], values: list[str], location: str) -> str:
    """Put a fresh UNLOAD prefix in the superseded ledger before its query starts.

    Whatever becomes of the query (stopped by a kill, its task lost, its trigger moved),
    what it wrote then expires after the grace period like a replaced version, unless it
    is the staged or published version by then (expiry keeps live locations and drops
    their entries). Nothing has to delete it on the way out.
    """
    return superseded.record(
        table, values, location, reason="UNLOAD prefix, expires unless staged"
    )
