"""Incidents: failed tasks, recorded where people look (the dashboard's Incidents page).

On the ``local`` backend an incident is one JSON object in the lake,
``<curated>/_incidents/<time>-<id>.json``, written whole or not at all: no mail server,
the record survives a killed worker once ``record`` returns, and the dashboard sees the
incidents of every worker (a task fails on whichever Celery worker ran it; a file on that
worker's own disk would never reach the dashboard). On ``aws`` the notifier publishes to
SNS instead (see ``iot_lake.notifier``) and this page stays empty.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from iot_lake.config import settings
from iot_lake.storage import atomic_open, filesystem, join

FIELDS = ("at", "dag_id", "task_id", "run_id", "day", "try_number", "error", "log_url")
FOLDER = "_incidents"  # "_": never part of a table (Hive/Athena and the engine skip it)


def location() -> str:
    return join(settings().uri("curated"), FOLDER)


def record(incident: dict[str, Any]) -> str:
    """Write one incident as an object of its own (names sort by time); its URI."""
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}.json"
    uri = join(location(), name)
    document = json.dumps({k: incident.get(k) for k in FIELDS}, default=str).encode()
    with atomic_open(uri) as out:
        out.write(document)
    return uri


def recent(limit: int = 200) -> list[dict[str, Any]]:
    """The newest incidents first (none on ``aws``: they went to SNS)."""
    if not settings().is_local:
        return []
    fs, path = filesystem(location())
    if not fs.exists(path):
        return []
    names = sorted((n for n in fs.ls(path, detail=False) if n.endswith(".json")), reverse=True)
    rows = []
    for name in names[:limit]:
        try:
            rows.append(json.loads(fs.cat_file(name)))
        except json.JSONDecodeError:
            continue
    return rows
