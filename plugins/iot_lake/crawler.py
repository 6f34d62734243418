"""The Glue crawler of the raw weather objects: for discovery only.

The pipeline never waits for a crawl: the raw tables are declared with partition
projection (``include/glue/tables/raw/``), so a new day folder is queryable the moment
Firehose writes it, on Glue/Athena and in the local engine alike. The crawler, deployed
by ``lake_setup`` from ``include/glue/crawler_raw_weather.json`` and started by hand,
writes what it finds to its own ``discovered_*`` tables; comparing them with the
declaration shows fields the devices send that the declaration does not have yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iot_lake import config
from iot_lake.config import INCLUDE_DIR, LakeSettings
from iot_lake.storage import join
from iot_lake.weather.layout import RAW_PREFIX

CRAWLER_DEFINITION = INCLUDE_DIR / "glue" / "crawler_raw_weather.json"


def json_classifier_name(lake: LakeSettings) -> str:
    from iot_lake.provisioning.deployment import json_classifier_name as name

    return name(lake)


def crawler_definition(
    settings: LakeSettings | None = None, role: str | None = None
) -> dict[str, Any]:
    """The Glue ``CreateCrawler`` request for the raw weather data, filled from settings."""
    lake = settings or config.settings()
    text = Path(CRAWLER_DEFINITION).read_text()
    values = {
        "crawler_name": lake.crawler_name,
        "classifier_name": json_classifier_name(lake),
        "raw_database": lake.raw_database,
        "raw_weather_uri": join(lake.uri("raw"), RAW_PREFIX) + "/",
        "role": role or "",
    }
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    definition = json.loads(text)
    definition.pop("_comment", None)
    if not definition.get("Role"):
        definition.pop("Role", None)
    return definition
