"""What a provisioning run did to each resource, and the summary the CLI and the DAG print.

Every resource function returns :class:`Change` records instead of logging ad hoc, so a
second run can prove it changed nothing ("no changes") and tests can assert on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Literal

Action = Literal["created", "updated", "unchanged", "skipped"]
MUTATIONS: frozenset[str] = frozenset({"created", "updated"})


@dataclass(frozen=True)
class Change:
    """The outcome for one resource: what kind, which one, what happened and why."""

    kind: str
    name: str
    action: Action
    details: tuple[str, ...] = field(default_factory=tuple)

    def line(self, dry_run: bool = False) -> str:
        verb = f"would be {self.action}" if dry_run and self.action in MUTATIONS else self.action
        text = f"{verb:<10} {self.kind} {self.name}"
        if self.details:
            text += f" ({'; '.join(self.details)})"
        return text

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["details"] = list(self.details)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Change:
        return cls(
            kind=str(data["kind"]),
            name=str(data["name"]),
            action=data["action"],  # type: ignore[arg-type]
            details=tuple(data.get("details") or ()),  # type: ignore[arg-type]
        )


def created(kind: str, name: str, *details: str) -> Change:
    return Change(kind, name, "created", details)


def updated(kind: str, name: str, *details: str) -> Change:
    return Change(kind, name, "updated", details)


def unchanged(kind: str, name: str, *details: str) -> Change:
    return Change(kind, name, "unchanged", details)


def skipped(kind: str, name: str, reason: str) -> Change:
    return Change(kind, name, "skipped", (reason,))


def summary(changes: Iterable[Change], dry_run: bool = False) -> str:
    """One closing line: ``no changes`` when nothing was created or updated."""
    counts = Counter(change.action for change in changes)
    total = sum(counts.values())
    if not counts["created"] and not counts["updated"]:
        text = f"no changes ({counts['unchanged']} of {total} resources unchanged"
        if counts["skipped"]:
            text += f", {counts['skipped']} skipped"
        return text + ")"
    prefix = "plan: " if dry_run else ""
    parts = [
        f"{counts[a]} {a}" for a in ("created", "updated", "unchanged", "skipped") if counts[a]
    ]
    return prefix + ", ".join(parts)


def has_mutations(changes: Iterable[Change]) -> bool:
    return any(change.action in MUTATIONS for change in changes)
