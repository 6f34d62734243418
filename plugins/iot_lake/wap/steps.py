"""The one write loop: one day's partitions of several tables staged step after step.

A *plan* is a list of steps; a step maps tables to the Athena SELECTs that give their
rows. Every table of a step is written aside as a new staged version of its partition
(:mod:`iot_lake.wap.staging`), where the next steps' SELECTs read it
(``{{ lake.staging_database }}``). The last step's tables are the *outputs*, audited then
published; the earlier steps' are *intermediates*, retired when the outputs are
published (:func:`iot_lake.wap.publish.publish`). An optional *summary* SELECT (one row,
read from the staged versions) gives the figures downstream tasks branch on and audit.

:func:`advance` runs a plan from a state (plain types: it travels as XCom) with a
*starter* for each step's queries. :func:`stage_now` runs them in this process (DuckDB,
or a synchronous Athena wait): the whole plan in one call (:func:`stage_steps`). A
deferring operator (:class:`iot_lake.operators.write.LakeStagedWriteOperator`) starts
them on Athena instead and gives its worker slot back while they run: :func:`advance`
then stops at the first pending query, and the operator calls :func:`finish_query` and
:func:`advance` again when it resumes. Both end with :func:`written`'s shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from iot_lake import config
from iot_lake.config import LakeSettings
from iot_lake.wap.staging import StagedPartition, register_staged, stage_partition, target_table

Query = tuple[str | None, str]
"""(table, SELECT) of a step, or (None, SELECT) of the summary."""

Starter = Callable[[Sequence[Query], dict[str, Any], LakeSettings], None]
"""Runs or starts a step's queries: staged versions go to ``state["staged"][-1]``, the
summary's row to ``state["summary"]``, or started queries to ``state["pending"]``."""


def new_state(values: Sequence[str]) -> dict[str, Any]:
    """The state of a plan not started yet, for partition ``values``."""
    return {"values": [str(v) for v in values], "step": 0, "pending": [], "staged": [],
            "summary": None}


def advance(
    plan: Sequence[Mapping[str, str]],
    summary_sql: str | None,
    state: dict[str, Any],
    lake: LakeSettings,
    start: Starter | None = None,
) -> dict[str, Any] | None:
    """Run the plan on from ``state``: :func:`written` when it is done, or None while a
    started query is pending (the caller waits for it, then :func:`finish_query`)."""
    if not plan:
        raise ValueError("a staged write needs at least one step")
    start = start or stage_now
    while not state["pending"]:
        if state["step"] < len(plan):
            queries: list[Query] = list(plan[state["step"]].items())
            state["staged"].append([])
            state["step"] += 1
        elif summary_sql and state["summary"] is None:
            queries = [(None, summary_sql)]
            state["summary"] = {}
        else:
            outputs = state["staged"][-1]
            intermediates = [s for step in state["staged"][:-1] for s in step]
            return written(outputs, intermediates, state["summary"] or {})
        start(queries, state, lake)
    return None


def stage_now(queries: Sequence[Query], state: dict[str, Any], lake: LakeSettings) -> None:
    """The starter that runs a step's queries here and now, one after the other."""
    from iot_lake.engine import get_engine

    for table, select in queries:
        if table is None:
            state["summary"] = one_row(get_engine(lake).query(select).records())
        else:
            staged = stage_partition(select, lake.curated_database, table, state["values"], lake)
            state["staged"][-1].append(staged.as_dict())


def finish_query(
    state: dict[str, Any], query: Mapping[str, Any], lake: LakeSettings,
    summary: Mapping[str, Any] | None = None,
) -> None:
    """Record a started query that finished: its UNLOADed version (``query["location"]``)
    registered as staged, or the summary's row."""
    if query["table"] is None:
        state["summary"] = dict(summary or {})
        return
    from iot_lake.catalog import get_catalog

    catalog = get_catalog(lake)
    database = lake.curated_database
    table = target_table(catalog, database, query["table"], state["values"])
    staged = register_staged(
        lake, database, table, state["values"], query["location"], catalog=catalog
    )
    state["staged"][-1].append(staged.as_dict())


def stage_steps(
    steps: Sequence[Mapping[str, str]],
    values: list[str],
    summary_sql: str | None = None,
    settings: LakeSettings | None = None,
) -> dict[str, Any]:
    """Stage every table of every step (rendered SELECTs) here, then read the summary."""
    lake = settings or config.settings()
    result = advance(steps, summary_sql, new_state(values), lake)
    if result is None:  # pragma: no cover - stage_now never leaves a query pending
        raise AssertionError("an in-task write left a query pending")
    return result


def one_row(records: list[dict[str, Any]]) -> dict[str, Any]:
    if len(records) != 1:
        raise ValueError(f"a write's summary query must return one row, got {len(records)}")
    return records[0]


def written(
    outputs: Sequence[StagedPartition | Mapping[str, Any]],
    intermediates: Sequence[StagedPartition | Mapping[str, Any]],
    summary: Mapping[str, Any],
) -> dict[str, Any]:
    """What a staged write returns: the summary's figures, the staged outputs in step
    order and the intermediates (what :func:`iot_lake.wap.publish.publish` takes)."""
    def plain(version: StagedPartition | Mapping[str, Any]) -> dict[str, Any]:
        return version.as_dict() if isinstance(version, StagedPartition) else dict(version)

    return {
        **summary,
        "staged": [plain(v) for v in outputs],
        "intermediate": [plain(v) for v in intermediates],
    }
