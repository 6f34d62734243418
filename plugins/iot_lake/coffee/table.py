"""The ``coffees`` table in the catalog (Glue on ``aws``, the local catalog on ``local``).

The definition is derived from :mod:`iot_lake.coffee.columns`, the same list the Parquet
schema comes from, so the catalog and the files cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from iot_lake.catalog import get_catalog, parquet_table_input
from iot_lake.coffee import columns, export
from iot_lake.config import LakeSettings, settings

DESCRIPTION = (
    "Coffee machine button presses exported daily from Aurora MySQL (coffees), "
    "partitioned by the day of coffee_hour (dt, UTC); booleans NULL when the face "
    "analysis could not judge"
)


def table_input(lake: LakeSettings) -> dict[str, Any]:
    """Glue ``TableInput`` of the curated ``coffees`` table."""
    return parquet_table_input(
        name=columns.TABLE,
        columns=columns.glue_columns(),
        location=export.table_uri(lake),
        partition_keys=[(columns.PARTITION_KEY, "string")],
        compression=lake.parquet_compression,
        description=DESCRIPTION,
    )


def register_partition(dt: str, lake: LakeSettings | None = None) -> dict[str, Any]:
    """Create or update the table, then point partition ``dt`` at its location.

    Idempotent: a rerun finds the same definition and the same location and changes
    nothing. Returns what happened, for the task log and XCom.
    """
    lake = lake or settings()
    catalog = get_catalog(lake)
    database = lake.curated_database
    catalog.ensure_database(database)
    table_changed = catalog.upsert_table(database, table_input(lake))
    location = export.partition_uri(lake, dt)
    previous = catalog.put_partition(database, columns.TABLE, [dt], location)
    return {
        "table": f"{database}.{columns.TABLE}",
        "table_changed": table_changed,
        "partition": f"{columns.PARTITION_KEY}={dt}",
        "location": location,
        "new_partition": previous is None,
    }
