"""Incidents: failed tasks, recorded where people look (the dashboard's Incidents page).

On the ``local`` backend an incident is one JSON line appended (and fsynced) to
``<lake home>/incidents/incidents.jsonl``: no mail server, and the record survives a
killed worker once ``record`` returns. On ``aws`` the notifier publishes to SNS instead
(see ``iot_lake.notifier``); this file then stays empty.

Photo events the coffee photo handler failed on for good are incidents too, on both
backends: read from where they wait for ``python -m iot_lake.coffee.replay_failed`` (the
spool's ``failed/`` on ``local``, one line per event; the Lambda's on-failure queue on
``aws``, one line with their number), so a replayed event leaves the list by itself.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from iot_lake.config import settings

log = logging.getLogger(__name__)

FIELDS = ("at", "dag_id", "task_id", "run_id", "day", "try_number", "error", "log_url")
REPLAY_COMMAND = "python -m iot_lake.coffee.replay_failed"


def path() -> Path:
    return Path(settings().home) / "incidents" / "incidents.jsonl"


def record(incident: dict[str, Any]) -> None:
    """Append one incident durably (one line, one write, then fsync)."""
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({k: incident.get(k) for k in FIELDS}, default=str) + "\n"
    with target.open("a", encoding="utf-8") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())


def failed_photo_events(store: Any = None) -> list[dict[str, Any]]:
    """The photo events waiting for a replay, as incidents (newest first)."""
    from iot_lake.coffee import replay_failed

    lake = settings()
    try:
        store = store or replay_failed.store_for(lake, quick=True)
        if not lake.is_local:
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
    """The newest incidents first; a torn last line (a writer killed mid-write) is skipped.

    Failed photo events waiting for a replay come first: they need a person's action.
    """
    photos = failed_photo_events()
    target = path()
    if not target.exists():
        return photos[:limit]
    rows = []
    for line in target.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [*photos, *rows[::-1]][:limit]
