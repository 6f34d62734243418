"""The weather tables, defined as data in ``include/glue/tables/`` (Glue TableInput).

Locations and compression come from the lake settings when the definitions are loaded,
so the same files describe the tables on S3 (Glue) and in a directory (local catalog).
The raw tables (``include/glue/tables/raw/``) are declared, not crawled: partition
projection on ``day`` makes every day folder visible the moment it is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iot_lake import config
from iot_lake.catalog import get_catalog
from iot_lake.config import INCLUDE_DIR, LakeSettings
from iot_lake.weather.plan import (
    OBSERVATIONS,
    REJECTS,
    STATS_BY_CONDITION,
    STATS_BY_STATION,
    TYPED,
)

TABLES_DIR = INCLUDE_DIR / "glue" / "tables"
RAW_TABLES_DIR = TABLES_DIR / "raw"

TABLES = (OBSERVATIONS, REJECTS, STATS_BY_STATION, STATS_BY_CONDITION, TYPED)

RAW = "weather"
RAW_LINES = "weather_lines"
RAW_UNDATED_LINES = "weather_undated_lines"
RAW_TABLES = (RAW, RAW_LINES, RAW_UNDATED_LINES)


def _load(path: Path, lake: LakeSettings) -> dict[str, Any]:
    text = path.read_text()
    values = {
        "curated_uri": lake.uri("curated").rstrip("/"),
        "parquet_compression": lake.parquet_compression.upper(),
    }
    if "${raw_uri}" in text:
        values["raw_uri"] = lake.uri("raw").rstrip("/")
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    definition = json.loads(text)
    definition.pop("_comment", None)
    return definition


def table_input(name: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """The TableInput of one curated weather table, filled from the settings."""
    return _load(TABLES_DIR / f"{name}.json", settings or config.settings())


def raw_table_input(name: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """The TableInput of one raw weather table (``weather``, ``weather_lines``)."""
    return _load(RAW_TABLES_DIR / f"{name}.json", settings or config.settings())


def ensure_tables(settings: LakeSettings | None = None) -> list[str]:
    """Create or update the raw and curated weather tables; the names of those that changed."""
    lake = settings or config.settings()
    catalog = get_catalog(lake)
    catalog.ensure_database(lake.raw_database, "iot-lake raw device messages (JSON lines)")
    catalog.ensure_database(lake.curated_database, "iot-lake curated tables (Parquet)")
    changed = [
        f"{lake.raw_database}.{name}"
        for name in RAW_TABLES
        if catalog.upsert_table(lake.raw_database, raw_table_input(name, lake))
    ]
    return changed + [
        name
        for name in TABLES
        if catalog.upsert_table(lake.curated_database, table_input(name, lake))
    ]
