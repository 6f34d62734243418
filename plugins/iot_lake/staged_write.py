"""A write in steps: one day's partitions of several tables staged step after step.

A *step* maps tables to the Athena SELECTs that give their rows; every table of a step is
written aside as a new staged version of its partition (:mod:`iot_lake.wap`), where the
next steps' SELECTs read it (``{{ lake.staging_database }}``). The last step's tables
are the *outputs*, audited then published; the earlier steps' are *intermediates*,
retired when the outputs are published. An optional *summary* SELECT (one row, read
from the staged versions) gives the figures downstream tasks branch on and audit.

:func:`stage_steps` runs a plan inside the caller (DuckDB on `local`; Athena waits on
`aws`, for tools and tests). In DAGs,
:class:`iot_lake.operators.write.LakeStagedWriteOperator` runs the same plan and, on
`aws`, gives its worker slot back while each Athena query runs. Both return
:func:`written`'s shape (XCom-ready).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from iot_lake import config, wap
from iot_lake.config import LakeSettings


def stage_steps(
    steps: Sequence[Mapping[str, str]],
    values: list[str],
    summary_sql: str | None = None,
    settings: LakeSettings | None = None,
) -> dict[str, Any]:
    """Stage every table of every step (rendered SELECTs), then read the summary."""
    from iot_lake.engine import get_engine

    lake = settings or config.settings()
    if not steps:
        raise ValueError("a staged write needs at least one step")
    staged: list[list[wap.StagedPartition]] = []
    for step in steps:
        staged.append([
            wap.stage_partition(select, lake.curated_database, table, values, settings=lake)
            for table, select in step.items()
        ])
    summary = one_row(get_engine(lake).query(summary_sql).records()) if summary_sql else {}
    return written(staged[-1], [s for step in staged[:-1] for s in step], summary)


def one_row(records: list[dict[str, Any]]) -> dict[str, Any]:
    if len(records) != 1:
        raise ValueError(f"a write's summary query must return one row, got {len(records)}")
    return records[0]


def written(
    outputs: Sequence[wap.StagedPartition | Mapping[str, Any]],
    intermediates: Sequence[wap.StagedPartition | Mapping[str, Any]],
    summary: Mapping[str, Any],
) -> dict[str, Any]:
    """What a staged write returns: the summary's figures, the staged outputs in step
    order (for :func:`iot_lake.wap.publish_all`) and the intermediates."""
    def plain(version: wap.StagedPartition | Mapping[str, Any]) -> dict[str, Any]:
        return version.as_dict() if isinstance(version, wap.StagedPartition) else dict(version)

    return {
        **summary,
        "staged": [plain(v) for v in outputs],
        "intermediate": [plain(v) for v in intermediates],
    }


def publish_written(
    result: Mapping[str, Any], settings: LakeSettings | None = None
) -> list[dict[str, Any]]:
    """Publish a staged write's outputs (in order), then retire its intermediates.

    Intermediates stay staged while the outputs are audited (the audit may read them; a
    failed audit keeps them for inspection); once the outputs are published nothing needs
    them, and their files expire after the grace period like a replaced version.
    """
    lake = settings or config.settings()
    published = wap.publish_all(list(result["staged"]), lake)
    intermediates = list(result.get("intermediate") or [])
    for version in intermediates:
        wap.retire_staged(version, lake)
    if intermediates:
        wap.expire_superseded(lake, tables=sorted({v["table"] for v in intermediates}))
    return published
