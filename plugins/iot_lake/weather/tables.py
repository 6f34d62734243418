"""The curated weather tables, defined as data in ``include/glue/tables/`` (Glue TableInput).

Locations and compression come from the lake settings when the definitions are loaded,
so the same files describe the tables on S3 (Glue) and in a directory (local catalog).
"""

from __future__ import annotations

import json
from typing import Any

from iot_lake import config
from iot_lake.catalog import get_catalog
from iot_lake.config import INCLUDE_DIR, LakeSettings

TABLES_DIR = INCLUDE_DIR / "glue" / "tables"

OBSERVATIONS = "weather_observations"
STATS_BY_STATION = "weather_stats_by_station_day"
STATS_BY_CONDITION = "weather_stats_by_condition_day"
TABLES = (OBSERVATIONS, STATS_BY_STATION, STATS_BY_CONDITION)


def table_input(name: str, settings: LakeSettings | None = None) -> dict[str, Any]:
    """The TableInput of one curated weather table, filled from the settings."""
    lake = settings or config.settings()
    text = (TABLES_DIR / f"{name}.json").read_text()
    for key, value in {
        "curated_uri": lake.uri("curated").rstrip("/"),
        "parquet_compression": lake.parquet_compression.upper(),
    }.items():
        text = text.replace("${" + key + "}", value)
    definition = json.loads(text)
    definition.pop("_comment", None)
    return definition


def ensure_tables(settings: LakeSettings | None = None) -> list[str]:
    """Create or update the curated weather tables; the names of those that changed."""
    lake = settings or config.settings()
    catalog = get_catalog(lake)
    catalog.ensure_database(lake.curated_database, "iot-lake curated tables (Parquet)")
    return [
        name
        for name in TABLES
        if catalog.upsert_table(lake.curated_database, table_input(name, lake))
    ]
