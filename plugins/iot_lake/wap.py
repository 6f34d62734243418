"""Write -> audit -> publish of one partition, the same steps on both backends.

A run writes a new *version* of a partition aside and registers it as the same partition
of the same table in the staging database (``<curated>_staging``, e.g.
``iot_lake_staging.weather_observations``). Every check reads it there. Only a passing
audit publishes it; until then readers of the curated table see the previous version.

Where the versions live (``<table>`` = the table's location, ``D`` = ``dt=YYYY-MM-DD``):

===========  ===================================  ==========================================
lake on      staged version                       publish
===========  ===================================  ==========================================
a directory  ``<table>/_staging/D/run=<id>/``     directory swap into ``<table>/D/``; the
(`local`)                                         replaced directory moves to
                                                  ``<table>/_superseded/<id>/``
an object    ``<table>/D/run=<id>/`` (UNLOAD's    catalog partition swap (Glue on `aws`, the
store (S3)   fresh prefix on `aws`)               local catalog on `local`): the partition
                                                  points at the staged prefix; the replaced
                                                  prefix stays where it is
===========  ===================================  ==========================================

An object store has no rename, so the `local` backend on an S3 endpoint (the compose
file's MinIO, Celery workers that share nothing but S3) publishes as `aws` does.

Names starting with ``_`` are invisible to Hive/Athena and to the local engine, and only
registered partition locations are read, so neither staged nor superseded versions reach
a reader of the curated table.

A replaced version is not deleted at once (a query planned on it may still be reading):
the publish leaves a ledger entry ``<table>/_superseded/<id>.json`` (location, time), and
:func:`expire_superseded` (run by ``lake_setup`` and after every publish) deletes
versions older than ``superseded_grace_hours``. A staged version whose audit failed stays
where it is, still registered in the staging database, until the day is staged again;
then it is retired through the same ledger.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from iot_lake import config
from iot_lake.catalog import Catalog, get_catalog, table_input_of
from iot_lake.config import LakeSettings
from iot_lake.storage import atomic_open, filesystem, is_local, join

log = logging.getLogger(__name__)

STAGING_DIR = "_staging"
SUPERSEDED_DIR = "_superseded"


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
    def from_dict(cls, value: dict[str, Any]) -> StagedPartition:
        return cls(**{k: value[k] for k in cls.__dataclass_fields__ if k in value})

    def describe(self) -> str:
        """Where to look at it: the task logs and failure messages print this."""
        return (
            f"{self.location} (partition {self.partition} of {self.staging_table}; "
            f"query it with SELECT ... FROM {self.staging_table} WHERE "
            + " AND ".join(f"{k} = '{v}'" for k, v in zip(self.keys, self.values, strict=True))
            + ")"
        )


def new_run_id() -> str:
    """A version id that sorts by time and never repeats (one per write attempt)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _norm(location: str | None) -> str | None:
    return None if location is None else location.rstrip("/")


def partition_keys(table: dict[str, Any]) -> list[str]:
    return [k["Name"] for k in table.get("PartitionKeys") or []]


def partition_location(table: dict[str, Any], values: list[str]) -> str:
    """``<table location>/k1=v1/...``: where the published partition lives on `local`."""
    parts = (f"{k}={v}" for k, v in zip(partition_keys(table), values, strict=True))
    return join(table["StorageDescriptor"]["Location"], *parts)


def swaps_directories(lake: LakeSettings, table: dict[str, Any]) -> bool:
    """Whether a publish of ``table`` renames directories: the `local` backend with the
    table in a directory. In an object store (S3 on either backend) it swaps the catalog's
    partition location instead."""
    location = table["StorageDescriptor"]["Location"]
    return lake.is_local and ("://" not in location or location.startswith("file://"))


def stage_location(
    lake: LakeSettings, table: dict[str, Any], values: list[str], run_id: str
) -> str:
    """Where a new version of a partition is written (see the module's table)."""
    parts = [f"{k}={v}" for k, v in zip(partition_keys(table), values, strict=True)]
    base = table["StorageDescriptor"]["Location"]
    if swaps_directories(lake, table):
        return join(base, STAGING_DIR, *parts, f"run={run_id}")
    return join(base, *parts, f"run={run_id}") + "/"


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
    if previous and _norm(previous) != _norm(location):
        # An earlier version that was never published (its audit failed): kept for the
        # grace period from now, then expired like a superseded one.
        _record_superseded(lake, table, values, previous, reason="restaged")
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


def publish(
    staged: StagedPartition, lake: LakeSettings | None = None, catalog: Catalog | None = None
) -> dict[str, Any]:
    """Swap a staged version in as the published partition (idempotent on retry)."""
    lake = lake or config.settings()
    catalog = catalog or get_catalog(lake)
    table = catalog.require_table(staged.database, staged.table)
    in_staging = catalog.get_partition(staged.staging_database, staged.table, staged.values)
    published = catalog.get_partition(staged.database, staged.table, staged.values)
    renames = swaps_directories(lake, table)
    final = partition_location(table, staged.values) if renames else staged.location
    if in_staging is None or _norm(in_staging["StorageDescriptor"]["Location"]) != _norm(
        staged.location
    ):
        if published and _norm(published["StorageDescriptor"]["Location"]) == _norm(final) and (
            not renames or not _exists(staged.location)
        ):
            log.info("%s %s already published", staged.table, staged.values)
            return {"table": f"{staged.database}.{staged.table}", "location": final,
                    "superseded": None, "already_published": True}
        from iot_lake.errors import PublishError

        raise PublishError(
            f"{staged.staging_table} {staged.partition} is no longer the version staged at "
            f"{staged.location}; rerun the day's write step"
        )
    superseded = None
    if renames:
        fs, src = filesystem(staged.location)
        _, dst = filesystem(final)
        if fs.exists(src):
            if fs.exists(dst):
                run_id = new_run_id()
                keep = join(table["StorageDescriptor"]["Location"], SUPERSEDED_DIR, run_id)
                _, keep_path = filesystem(keep)
                os.makedirs(os.path.dirname(keep_path), exist_ok=True)
                os.rename(dst, keep_path)
                superseded = keep
                _record_superseded(lake, table, staged.values, keep, run_id=run_id)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.rename(src, dst)
            _fsync_dir(os.path.dirname(dst))
            remove_empty_parents(src, stop=STAGING_DIR)
        elif not fs.exists(dst):
            from iot_lake.errors import PublishError

            raise PublishError(f"staged data of {staged.table} {staged.values} is gone: {src}")
        catalog.put_partition(staged.database, staged.table, staged.values, final)
    else:
        previous = catalog.put_partition(staged.database, staged.table, staged.values, final)
        if previous and _norm(previous) != _norm(final):
            superseded = previous
            _record_superseded(lake, table, staged.values, previous)
    catalog.delete_partition(staged.staging_database, staged.table, staged.values)
    log.info(
        "published %s.%s %s at %s (replaced version kept until expiry: %s)",
        staged.database, staged.table, staged.values, final, superseded,
    )
    return {"table": f"{staged.database}.{staged.table}", "location": final,
            "superseded": superseded, "already_published": False}


def _exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return bool(fs.exists(path))


def remove_empty_parents(path: str, stop: str) -> None:
    """Remove the now empty ``_staging/k=v/`` folders a swap left behind (up to ``stop``)."""
    parent = os.path.dirname(path.rstrip("/"))
    while os.path.basename(parent) != stop and parent not in ("", "/"):
        try:
            os.rmdir(parent)
        except OSError:  # not empty: another staged version is there
            return
        parent = os.path.dirname(parent)
    with contextlib.suppress(OSError):
        os.rmdir(parent)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _record_superseded(
    lake: LakeSettings,
    table: dict[str, Any],
    values: list[str],
    location: str,
    run_id: str | None = None,
    reason: str = "replaced by a publish",
) -> str:
    entry = join(
        table["StorageDescriptor"]["Location"], SUPERSEDED_DIR, f"{run_id or new_run_id()}.json"
    )
    document = {
        "table": table["Name"],
        "values": [str(v) for v in values],
        "location": location,
        "reason": reason,
        "superseded_at": datetime.now(UTC).isoformat(),
    }
    payload = json.dumps(document, sort_keys=True).encode()
    if lake.is_local:
        with atomic_open(entry) as handle:
            handle.write(payload)
    else:
        bucket, key = _s3(lake).parse_s3_url(entry)
        _s3(lake).load_bytes(payload, key=key, bucket_name=bucket, replace=True)
    return entry


def _s3(lake: LakeSettings) -> Any:
    """The provider's S3 hook on the lake's AWS connection (credentials, region)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=lake.aws_conn_id, region_name=lake.region)


def _ledger(lake: LakeSettings, table: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(entry URI, entry) of a table's superseded ledger, oldest first."""
    base = join(table["StorageDescriptor"]["Location"], SUPERSEDED_DIR)
    out = []
    if lake.is_local:
        fs, path = filesystem(base)
        if not fs.exists(path):
            return []
        scheme = "file" if is_local(fs) else fs.protocol[0]
        for name in sorted(fs.ls(path, detail=False)):
            if name.endswith(".json"):
                with fs.open(name, "rb") as handle:
                    out.append((f"{scheme}://{name}", json.loads(handle.read())))
        return out
    s3 = _s3(lake)
    bucket, prefix = s3.parse_s3_url(base + "/")
    for key in sorted(s3.list_keys(bucket_name=bucket, prefix=prefix) or []):
        if key.endswith(".json"):
            out.append((f"s3://{bucket}/{key}", json.loads(s3.read_key(key, bucket))))
    return out


def _delete_tree(lake: LakeSettings, uri: str) -> None:
    if lake.is_local:
        fs, path = filesystem(uri)
        if fs.exists(path):
            fs.rm(path, recursive=True)
        return
    s3 = _s3(lake)
    bucket, prefix = s3.parse_s3_url(uri)
    keys = s3.list_keys(bucket_name=bucket, prefix=prefix) if prefix.endswith("/") else []
    keys = keys or ([prefix] if not prefix.endswith("/") else [])
    if keys:
        s3.delete_objects(bucket=bucket, keys=keys)


def expire_superseded(
    lake: LakeSettings | None = None,
    *,
    now: datetime | None = None,
    grace: timedelta | None = None,
    tables: list[str] | None = None,
) -> list[str]:
    """Delete replaced versions older than the grace period; the locations deleted.

    A ledger entry whose location is (again) the published or the staged version of its
    partition is dropped without deleting anything.
    """
    lake = lake or config.settings()
    catalog = get_catalog(lake)
    now = now or datetime.now(UTC)
    grace = grace if grace is not None else timedelta(hours=lake.superseded_grace_hours)
    database = lake.curated_database
    removed: list[str] = []
    for name in tables if tables is not None else catalog.list_tables(database):
        table = catalog.get_table(database, name)
        if table is None:
            continue
        ledger = _ledger(lake, table)
        # A location may have several entries (its UNLOAD's submission, then its
        # replacement): its grace runs from the newest one.
        newest: dict[str | None, datetime] = {}
        for _, entry in ledger:
            at, key = datetime.fromisoformat(entry["superseded_at"]), _norm(entry["location"])
            newest[key] = max(at, newest.get(key, at))
        for entry_uri, entry in ledger:
            if now - datetime.fromisoformat(entry["superseded_at"]) < grace:
                continue
            if now - newest[_norm(entry["location"])] < grace:
                _delete_tree(lake, entry_uri)  # a newer entry keeps the location its grace
                continue
            live = {
                _norm(p["StorageDescriptor"]["Location"])
                for db in (database, lake.staging_database)
                if (p := catalog.get_partition(db, name, entry["values"])) is not None
            }
            if _norm(entry["location"]) not in live:
                location = entry["location"]
                _delete_tree(lake, location if lake.is_local else location.rstrip("/") + "/")
                removed.append(location)
            _delete_tree(lake, entry_uri)
    if removed:
        log.info("expired %d superseded partition versions: %s", len(removed), removed)
    return removed


def retire_staged(
    staged: dict[str, Any] | StagedPartition, lake: LakeSettings | None = None
) -> str | None:
    """Retire a staged version that is never published (an intermediate whose outputs
    are): its staging partition goes and its files expire after the grace period, like a
    superseded version. Returns the ledger entry, or None when the partition has been
    staged again since (that write retires this version)."""
    lake = lake or config.settings()
    version = staged if isinstance(staged, StagedPartition) else StagedPartition.from_dict(staged)
    catalog = get_catalog(lake)
    current = catalog.get_partition(version.staging_database, version.table, version.values)
    if current is None or _norm(current["StorageDescriptor"]["Location"]) != _norm(
        version.location
    ):
        return None
    table = catalog.require_table(version.database, version.table)
    # Ledger first: a crash before the partition is dropped leaks nothing.
    entry = _record_superseded(
        lake, table, version.values, version.location, reason="intermediate, not published"
    )
    catalog.delete_partition(version.staging_database, version.table, version.values)
    log.info("retired staged %s", version.describe())
    return entry


def publish_all(
    staged: list[dict[str, Any]] | list[StagedPartition], lake: LakeSettings | None = None
) -> list[dict[str, Any]]:
    """Publish a write step's staged versions in order, then expire old versions of them.

    Callers list a table's rejects before its rows: a crash between the two swaps then
    leaves rows whose rejects are already current, and the rerun rewrites both.
    """
    lake = lake or config.settings()
    versions = [s if isinstance(s, StagedPartition) else StagedPartition.from_dict(s)
                for s in staged]
    results = [publish(version, lake) for version in versions]
    expire_superseded(lake, tables=sorted({v.table for v in versions}))
    return results


def record_unload_prefix(
    lake: LakeSettings, table: dict[str, Any], values: list[str], location: str
) -> str:
    """Put a fresh UNLOAD prefix in the superseded ledger before its query starts.

    Whatever becomes of the query (stopped by a kill, its task lost, its trigger moved),
    what it wrote then expires after the grace period like a replaced version, unless it
    is the staged or published version by then (:func:`expire_superseded` keeps live
    locations and drops their entries). Nothing has to delete it on the way out.
    """
    return _record_superseded(
        lake, table, values, location, reason="UNLOAD prefix, expires unless staged"
    )
