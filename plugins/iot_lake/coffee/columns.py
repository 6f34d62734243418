"""The typed shape of a coffee row in the lake, shared by the export and the catalog.

MySQL has no boolean type (``TINYINT(1)``) and the original pipeline copied DATETIMEs
as strings; here the lake gets real ``timestamp`` and ``boolean`` columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

TABLE = "coffees"
PARTITION_KEY = "dt"

FLAG_COLUMNS: tuple[str, ...] = ("has_face", "smile", "beard", "mustache", "glasses")
TIMESTAMP_COLUMNS: tuple[str, ...] = ("coffee_hour", "created_at")

# (name, Glue/Athena type, comment) in the order of the SELECT and of the Parquet file.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "bigint", "coffees.id in Aurora MySQL"),
    ("machine_id", "string", "the coffee machine (IoT thing name)"),
    ("photo_url", "string", "object URL of the photo taken at the press"),
    ("coffee_hour", "timestamp", "when the button was pressed (UTC)"),
    ("has_face", "boolean", "a face was found in the photo"),
    ("has_face_confidence", "float", "0..100, NULL when the analyser gives none"),
    ("smile", "boolean", "NULL when unknown"),
    ("smile_confidence", "float", "0..100"),
    ("beard", "boolean", "NULL when unknown (always on the local analyser)"),
    ("beard_confidence", "float", "0..100"),
    ("mustache", "boolean", "NULL when unknown (always on the local analyser)"),
    ("mustache_confidence", "float", "0..100"),
    ("glasses", "boolean", "eyeglasses or sunglasses; NULL when unknown"),
    ("glasses_confidence", "float", "0..100"),
    ("created_at", "timestamp", "row insert time in Aurora (UTC)"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _, _ in COLUMNS)


def arrow_schema() -> pa.Schema:
    """The Parquet schema: ms timestamps (naive UTC, as Athena reads them), real booleans."""
    import pyarrow as pa

    types = {
        "bigint": pa.int64(),
        "string": pa.string(),
        "timestamp": pa.timestamp("ms"),
        "boolean": pa.bool_(),
        "float": pa.float32(),
    }
    return pa.schema(
        [
            pa.field(name, types[kind], nullable=name not in ("id", "coffee_hour"))
            for name, kind, _ in COLUMNS
        ]
    )


def glue_columns() -> list[dict[str, str]]:
    """Columns of the Glue TableInput (``StorageDescriptor.Columns``)."""
    return [{"Name": name, "Type": kind, "Comment": comment} for name, kind, comment in COLUMNS]
