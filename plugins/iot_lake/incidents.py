"""Incidents: failed tasks, recorded where people look (the dashboard's Incidents page).

On the ``local`` backend an incident is one JSON line appended (and fsynced) to
``<lake home>/incidents/incidents.jsonl``: no mail server, and the record survives a
killed worker once ``record`` returns. On ``aws`` the notifier publishes to SNS instead
(see ``iot_lake.notifier``); this file then stays empty.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from iot_lake.config import settings

FIELDS = ("at", "dag_id", "task_id", "run_id", "day", "try_number", "error", "log_url")


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


def recent(limit: int = 200) -> list[dict[str, Any]]:
    """The newest incidents first; a torn last line (a writer killed mid-write) is skipped."""
    target = path()
    if not target.exists():
        return []
    rows = []
    for line in target.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows[::-1][:limit]
