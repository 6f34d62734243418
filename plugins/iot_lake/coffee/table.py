"""The ``coffees`` and ``coffee_rejects`` tables in the catalog (Glue / local catalog).

The ``coffees`` definition is derived from :mod:`iot_lake.coffee.columns`, the same list
the Parquet schema comes from, so the catalog and the files cannot drift apart;
``coffee_rejects`` has the shape of every rejects table (:mod:`iot_lake.rejects`).
Partitions are not registered here: a day is staged, audited and published
(:mod:`iot_lake.wap`).
"""

from __future__ import annotations

from typing import Any

from iot_lake import rejects
from iot_lake.catalog import get_catalog, parquet_table_input
from iot_lake.coffee import columns
from iot_lake.config import LakeSettings, settings
from iot_lake.storage import join

REJECTS_TABLE = "coffee_rejects"

DESCRIPTION = (
    "Coffee machine button presses exported daily from Aurora MySQL (coffees), "
    "partitioned by the day of coffee_hour (dt, UTC); booleans NULL when the face "
    "analysis could not judge"
)
REJECTS_DESCRIPTION = (
    "Rows of Aurora MySQL coffees the lake could not take (photo_url that is no object "
    "URL, flag outside 0/1/NULL, unreadable DATETIME), with the reason and the raw row"
)


def table_uri(lake: LakeSettings) -> str:
    """Location of the ``coffees`` table (the parent of its ``dt=`` partitions)."""
    return join(lake.uri("curated"), columns.TABLE)


def table_input(lake: LakeSettings) -> dict[str, Any]:
    """Glue ``TableInput`` of the curated ``coffees`` table."""
    return parquet_table_input(
        name=columns.TABLE,
        columns=columns.glue_columns(),
        location=table_uri(lake),
        partition_keys=[(columns.PARTITION_KEY, "string")],
        compression=lake.parquet_compression,
        description=DESCRIPTION,
    )


def rejects_table_input(lake: LakeSettings) -> dict[str, Any]:
    return rejects.table_input(lake, REJECTS_TABLE, REJECTS_DESCRIPTION)


def ensure_tables(lake: LakeSettings | None = None) -> dict[str, bool]:
    """Create or update both tables (idempotent); which of them changed."""
    lake = lake or settings()
    catalog = get_catalog(lake)
    database = lake.curated_database
    catalog.ensure_database(database)
    return {
        definition["Name"]: catalog.upsert_table(database, definition)
        for definition in (table_input(lake), rejects_table_input(lake))
    }
