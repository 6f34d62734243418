"""The one publish: a write's outputs swapped in, its intermediates retired, old versions
expired. Every writer publishes through :func:`publish`: the weather day, the coffee
export, the stats (:func:`write_partition`) and the write operator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from iot_lake import config, storage
from iot_lake.catalog import Catalog, get_catalog
from iot_lake.config import LakeSettings
from iot_lake.wap import superseded
from iot_lake.wap.staging import (
    STAGING_DIR,
    StagedPartition,
    partition_location,
    stage_partition,
    swaps_directories,
)
from iot_lake.wap.superseded import new_run_id, same_location

log = logging.getLogger(__name__)


def publish(
    written: Mapping[str, Any], settings: LakeSettings | None = None
) -> list[dict[str, Any]]:
    """Publish a write: its outputs (``written["staged"]``) in order, then retire its
    intermediates (``written["intermediate"]``), then expire old versions of their tables.

    Writers list a table's rejects before its rows: a crash between the two swaps then
    leaves rows whose rejects are already current, and the rerun rewrites both.
    Intermediates stay staged while the outputs are audited (the audit may read them; a
    failed audit keeps them for inspection); once the outputs are published nothing needs
    them, and their files expire after the grace period like a replaced version.
    Idempotent: a retried publish finds the outputs already published.
    """
    lake = settings or config.settings()
    catalog = get_catalog(lake)
    outputs = [StagedPartition.from_dict(v) for v in written["staged"]]
    intermediates = [StagedPartition.from_dict(v) for v in written.get("intermediate") or []]
    results = [_swap_in(version, catalog) for version in outputs]
    for version in intermediates:
        _retire(version, catalog)
    superseded.expire_superseded(
        lake, tables=sorted({v.table for v in [*outputs, *intermediates]})
    )
    return results


def write_partition(
    select_sql: str,
    db: str,
    table_name: str,
    values: list[str],
    settings: LakeSettings | None = None,
    database: str | None = None,
) -> dict[str, Any]:
    """Replace one partition of a Parquet table by the rows of an Athena SELECT, unaudited.

    :func:`~iot_lake.wap.staging.stage_partition` then :func:`publish` at once, for
    derived tables without checks of their own (the daily stats). Whatever fails, readers
    see the old partition or the new one, never a mix, and a rerun replaces rather than
    adds.
    """
    lake = settings or config.settings()
    started = time.perf_counter()
    staged = stage_partition(select_sql, db, table_name, values, lake, database)
    [published] = publish({"staged": [staged]}, lake)
    seconds = time.perf_counter() - started
    log.info("published %s.%s %s: %s rows in %.2fs", db, table_name, values, staged.rows, seconds)
    return {
        "location": published["location"],
        "previous": published["superseded"],
        "rows": staged.rows,
        "seconds": round(seconds, 3),
    }


def _swap_in(staged: StagedPartition, catalog: Catalog) -> dict[str, Any]:
    """Swap one staged version in as the published partition (idempotent on retry)."""
    table = catalog.require_table(staged.database, staged.table)
    in_staging = catalog.get_partition(staged.staging_database, staged.table, staged.values)
    published = catalog.get_partition(staged.database, staged.table, staged.values)
    renames = swaps_directories(table)
    final = partition_location(table, staged.values) if renames else staged.location
    if in_staging is None or not same_location(
        in_staging["StorageDescriptor"]["Location"], staged.location
    ):
        if (
            published
            and same_location(published["StorageDescriptor"]["Location"], final)
            and (not renames or not storage.exists(staged.location))
        ):
            log.info("%s %s already published", staged.table, staged.values)
            return {"table": f"{staged.database}.{staged.table}", "location": final,
                    "superseded": None, "already_published": True}
        from iot_lake.errors import PublishError

        raise PublishError(
            f"{staged.staging_table} {staged.partition} is no longer the version staged at "
            f"{staged.location}; rerun the day's write step"
        )
    replaced = None
    if renames:
        if storage.exists(staged.location):
            if storage.exists(final):
                run_id = new_run_id()
                replaced = storage.join(superseded.ledger_uri(table), run_id)
                storage.move_directory(final, replaced)
                superseded.record(table, staged.values, replaced, run_id=run_id)
            storage.move_directory(staged.location, final)
            storage.remove_empty_parents(staged.location, stop=STAGING_DIR)
        elif not storage.exists(final):
            from iot_lake.errors import PublishError

            raise PublishError(
                f"staged data of {staged.table} {staged.values} is gone: {staged.location}"
            )
        catalog.put_partition(staged.database, staged.table, staged.values, final)
    else:
        previous = catalog.put_partition(staged.database, staged.table, staged.values, final)
        if previous and not same_location(previous, final):
            replaced = previous
            superseded.record(table, staged.values, previous)
    catalog.delete_partition(staged.staging_database, staged.table, staged.values)
    log.info(
        "published %s.%s %s at %s (replaced version kept until expiry: %s)",
        staged.database, staged.table, staged.values, final, replaced,
    )
    return {"table": f"{staged.database}.{staged.table}", "location": final,
            "superseded": replaced, "already_published": False}


def _retire(version: StagedPartition, catalog: Catalog) -> str | None:
    """Retire a staged version that is never published (an intermediate whose outputs
    are): its staging partition goes and its files expire after the grace period, like a
    superseded version. Returns the ledger entry, or None when the partition has been
    staged again since (that write retires this version)."""
    current = catalog.get_partition(version.staging_database, version.table, version.values)
    if current is None or not same_location(
        current["StorageDescriptor"]["Location"], version.location
    ):
        return None
    table = catalog.require_table(version.database, version.table)
    # Ledger first: a crash before the partition is dropped leaks nothing.
    entry = superseded.record(
        table, version.values, version.location, reason="intermediate, not published"
    )
    catalog.delete_partition(version.staging_database, version.table, version.values)
    log.info("retired staged %s", version.describe())
    return entry
