"""Incidents: failed tasks, recorded where people look (the dashboard's Incidents page).

On the ``local`` backend an incident is one JSON object in the lake,
``<curated>/_incidents/<time>-<id>.json``, written whole or not at all: no mail server,
the record survives a killed worker once ``record`` returns, and the dashboard sees the
incidents of every worker (a task fails on whichever Celery worker ran it; a file on that
worker's own disk would never reach the dashboard). On ``aws`` the notifier publishes to
SNS instead (see ``iot_lake.notifier``), and the page lists failed photo events only.

Photo events the coffee photo handler failed on for good are incidents too, on both
backends: read from where they wait for ``python -m iot_lake.coffee.replay_failed`` (the
spool's ``failed/`` on ``local``, one line per event; the Lambda's on-failure queue on
``aws``, one line with their number), so a replayed event leaves the list by itself.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from iot_lake.config import LakeSettings, settings
from iot_lake.storage import atomic_open, filesystem, join

log = logging.getLogger(__name__)

FIELDS = ("at", "dag_id", "task_id", "run_id", "day", "try_number", "error", "log_url")
REPLAY_COMMAND = "python -m iot_lake.coffee.replay_failed"
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


def failed_photo_events(store: Any = None) -> list[dict[str, Any]]:
    """The photo events waiting for a replay, as incidents (newest first)."""
    from iot_lake.coffee import replay_failed

    try:
        store = store or replay_failed.get_failure_store(settings(), quick=True)
        if not store.listable:  # a queue: receiving would hide its messages
            waiting = store.count()
            if not waiting:
                return []
            return [
                {
                    "at": None, "dag_id": "coffee_photo", "task_id": "lambda",
                    "run_id": store.where, "day": None, "try_number": None, "log_url": None,
                    "error": f"{waiting} photo events failed their retries and wait in the "
                    f"on-failure queue: {REPLAY_COMMAND}",
                }
            ]  # fmt: skip
        rows = []
        for item in store.failed():
            day = next((k.split("/")[-2] for k in item.keys if k.count("/") >= 2), None)
            attempts = (item.record.get("requestContext") or {}).get("approximateInvokeCount")
            rows.append(
                {
                    "at": item.failed_at, "dag_id": "coffee_photo", "task_id": "handler",
                    "run_id": item.ident, "day": day, "try_number": attempts, "log_url": None,
                    "error": f"{item.error} (photo {', '.join(item.keys)}): {REPLAY_COMMAND}",
                }
            )  # fmt: skip
        return rows[::-1]
    except Exception as exc:  # the page still shows the tasks' incidents
        log.warning("failed photo events not readable: %s", exc)
        return []


def recent(limit: int = 200) -> list[dict[str, Any]]:
    """The newest incidents first (the tasks' ones only locally: on ``aws`` they went to
    SNS). Failed photo events waiting for a replay come first: they need a person's action.
    """
    photos = failed_photo_events()
    return [*photos, *get_task_incidents(settings())(limit)][:limit]


def get_task_incidents(lake: LakeSettings) -> Callable[[int], list[dict[str, Any]]]:
    """Where the tasks' incidents are listed from: the lake's objects on ``local``; nowhere
    on ``aws``, where the notifier publishes them to SNS."""
    if lake.is_local:
        return _recorded
    return lambda limit: []


def _recorded(limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` incident objects of the lake."""
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
