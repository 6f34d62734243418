"""The rejects tables (``weather_rejects``, ``coffee_rejects``): one shape for every source.

A record the lake cannot take is kept, never dropped: partition ``dt`` of the day that
tried to load it, with where it came from (``source``: object key, or source table and
row id; ``line_number`` when the source has lines), why (``reason``) and the raw text.
``rejected_at`` stays NULL so that a rerun of a day writes byte-identical rejects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iot_lake.catalog import parquet_table_input
from iot_lake.config import LakeSettings
from iot_lake.storage import join

PARTITION_KEY = "dt"

# Glue column types, in file order (the partition key dt is not stored in the files).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "string"),
    ("line_number", "bigint"),
    ("reason", "string"),
    ("raw", "string"),
    ("rejected_at", "timestamp"),
)


def table_uri(lake: LakeSettings, name: str) -> str:
    return join(lake.uri("curated"), name)


def table_input(lake: LakeSettings, name: str, description: str) -> dict[str, Any]:
    """Glue TableInput of a rejects table (Parquet, partitioned by ``dt``)."""
    return parquet_table_input(
        name,
        list(COLUMNS),
        table_uri(lake, name),
        partition_keys=[(PARTITION_KEY, "string")],
        compression=lake.parquet_compression,
        description=description,
    )


def record(source: str, reason: str, raw: str, line_number: int | None = None) -> dict[str, Any]:
    """One reject row."""
    return {
        "source": source,
        "line_number": line_number,
        "reason": reason,
        "raw": raw,
        "rejected_at": None,
    }


def write_parquet(uri: str, rows: Sequence[dict[str, Any]], compression: str) -> None:
    """Write reject rows as one Parquet object (written even when empty: it replaces)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from iot_lake.quality import arrow_schema
    from iot_lake.storage import filesystem

    table = pa.Table.from_pylist(list(rows), schema=arrow_schema(COLUMNS))
    fs, path = filesystem(uri)
    fs.makedirs(path.rpartition("/")[0], exist_ok=True)
    with fs.open(path, "wb") as handle:
        pq.write_table(table, handle, compression=compression.lower())
