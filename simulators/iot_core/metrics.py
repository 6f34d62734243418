"""Per-rule counters of the local rules engine, logged periodically and at shutdown.

``received``: messages on the rule's topic; ``matched``: the WHERE clause held;
``delivered``: every action of the rule has the message durably (a Firehose record counts
when its object is written); ``errored``: the message went to the rule's error action.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

log = logging.getLogger(__name__)

FIELDS = ("received", "matched", "delivered", "errored")


@dataclass
class RuleCounters:
    received: int = 0
    matched: int = 0
    delivered: int = 0
    errored: int = 0


class Metrics:
    """Thread-safe counters keyed by rule name."""

    def __init__(self, rule_names: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._rules = {name: RuleCounters() for name in rule_names}

    def add(self, rule: str, counter: str, amount: int = 1) -> None:
        with self._lock:
            counters = self._rules.setdefault(rule, RuleCounters())
            setattr(counters, counter, getattr(counters, counter) + amount)

    def add_many(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add ``{(rule, counter): amount}`` under one lock (a batch's worth)."""
        with self._lock:
            for (rule, counter), amount in counts.items():
                counters = self._rules.setdefault(rule, RuleCounters())
                setattr(counters, counter, getattr(counters, counter) + amount)

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: asdict(counters) for name, counters in self._rules.items()}

    def log(self, label: str = "metrics") -> dict[str, dict[str, int]]:
        """Log one line per rule (and return the snapshot)."""
        snapshot = self.snapshot()
        for name, counters in snapshot.items():
            log.info("%s rule=%s %s", label, name, " ".join(f"{k}={counters[k]}" for k in FIELDS))
        return snapshot

    def to_json(self) -> str:
        return json.dumps(self.snapshot(), sort_keys=True)
