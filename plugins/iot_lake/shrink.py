"""A new version of a day must not silently replace a much larger published one.

A wrong raw location, a lost raw folder, an empty source table or a view that reads
nothing all produce a *valid* empty (or thin) day: every per-row check passes on zero
rows and reconciliation adds up (0 = 0). The one signal left is the published version
it would replace. The audit therefore compares the staged rows with the published rows
of the same day and fails, as a data error, when all rows are gone or more than
``max_day_shrink`` (setting, default 0.5) of them would be lost. A person who knows the
shrink is right (rows deleted at the source on purpose) triggers the day with the DAG
param ``accept_shrink = true``; the check then passes and says so in its log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ACCEPT_PARAM = "accept_shrink"
COUNT_SQL = "quality/count_day_versions.sql"


@dataclass(frozen=True)
class DayShrink:
    """The staged and published row counts of one day of one table, and the verdict."""

    table: str
    day: str
    staged_rows: int
    published_rows: int
    max_shrink: float
    accepted: bool = False

    @property
    def lost_fraction(self) -> float:
        if self.published_rows <= 0:
            return 0.0
        return max(0.0, 1.0 - self.staged_rows / self.published_rows)

    @property
    def too_small(self) -> bool:
        """All published rows gone, or more than ``max_shrink`` of them."""
        if self.published_rows <= 0:
            return False  # nothing published yet (or published empty): nothing to lose
        return self.staged_rows == 0 or self.lost_fraction > self.max_shrink

    @property
    def passes(self) -> bool:
        return self.accepted or not self.too_small

    def describe(self) -> str:
        return (
            f"{self.table} day {self.day}: the new version has {self.staged_rows} rows, "
            f"the published version {self.published_rows} "
            f"({self.lost_fraction:.0%} fewer; at most {self.max_shrink:.0%} may be lost "
            "(setting max_day_shrink), and never all of them)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lost_fraction": self.lost_fraction, "passes": self.passes}


def judge(
    table: str,
    day: str,
    row: dict[str, Any],
    max_shrink: float,
    accepted: bool = False,
) -> DayShrink:
    """The verdict on one row of :data:`COUNT_SQL` (``staged_rows``, ``published_rows``)."""
    return DayShrink(
        table=table,
        day=day,
        staged_rows=int(row["staged_rows"] or 0),
        published_rows=int(row["published_rows"] or 0),
        max_shrink=max_shrink,
        accepted=accepted,
    )


def accepted(params: Any) -> bool:
    """Whether the run's params accept a shrink (a trigger form's boolean, or its text)."""
    value = (params or {}).get(ACCEPT_PARAM, False)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
