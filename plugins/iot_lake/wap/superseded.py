"""The ledger of versions nothing reads any more, and their expiry.

A replaced (or retired) version is not deleted at once: a query planned on it may still
be reading. Its location goes into the table's ledger, one small JSON object per entry
(``<table>/_superseded/<id>.json``: table, values, location, reason, time), and
:func:`expire_superseded` deletes it once the grace period (``superseded_grace_hours``)
has passed, unless it is by then the published or the staged version of its partition.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from iot_lake import config, storage
from iot_lake.catalog import get_catalog
from iot_lake.config import LakeSettings

log = logging.getLogger(__name__)

SUPERSEDED_DIR = "_superseded"


def new_run_id() -> str:
    """A version id that sorts by time and never repeats (one per write attempt)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def same_location(left: str | None, right: str | None) -> bool:
    """Whether two locations name the same folder (a trailing slash or not)."""
    return (left or "").rstrip("/") == (right or "").rstrip("/")


def ledger_uri(table: dict[str, Any]) -> str:
    """The folder of a table's ledger (and, in a directory, of its replaced versions)."""
    return storage.join(table["StorageDescriptor"]["Location"], SUPERSEDED_DIR)


def record(
    table: dict[str, Any],
    values: list[str],
    location: str,
    run_id: str | None = None,
    reason: str = "replaced by a publish",
) -> str:
    """Put ``location`` in the table's ledger (expires after the grace period); the entry."""
    entry = storage.join(ledger_uri(table), f"{run_id or new_run_id()}.json")
    storage.write_json(entry, {
        "table": table["Name"],
        "values": [str(v) for v in values],
        "location": location,
        "reason": reason,
        "superseded_at": datetime.now(UTC).isoformat(),
    })  # fmt: skip
    return entry


def ledger(table: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(entry URI, entry) of a table's superseded ledger, oldest first."""
    return [
        (entry, storage.read_json(entry))
        for entry in storage.list_dir(ledger_uri(table))
        if entry.endswith(".json")
    ]


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
        entries = ledger(table)
        # A location may have several entries (its UNLOAD's submission, then its
        # replacement): its grace runs from the newest one.
        newest: dict[str, datetime] = {}
        for _, entry in entries:
            at, key = datetime.fromisoformat(entry["superseded_at"]), _key(entry["location"])
            newest[key] = max(at, newest.get(key, at))
        for entry_uri, entry in entries:
            if now - datetime.fromisoformat(entry["superseded_at"]) < grace:
                continue
            if now - newest[_key(entry["location"])] < grace:
                storage.delete_tree(entry_uri)  # a newer entry keeps the location its grace
                continue
            live = {
                _key(p["StorageDescriptor"]["Location"])
                for db in (database, lake.staging_database)
                if (p := catalog.get_partition(db, name, entry["values"])) is not None
            }
            if _key(entry["location"]) not in live:
                storage.delete_tree(entry["location"])
                removed.append(entry["location"])
            storage.delete_tree(entry_uri)
    if removed:
        log.info("expired %d superseded partition versions: %s", len(removed), removed)
    return removed


def _key(location: str) -> str:
    return location.rstrip("/")
