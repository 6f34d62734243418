"""Reconciliation of a weather day against the raw objects themselves, not the catalog.

The raw records of day D's window (every line of the objects under ``weather/day=D/``
and of the ``weather/day=undated/arrived=D/`` objects, counted by listing and
reading the objects) must equal staged observations + rejects + duplicates removed.
Records the ingestion kept under ``errors/`` instead (:mod:`iot_lake.weather.ingest_errors`:
Firehose's ``processing-failed`` output, the Firehose rule's IoT error documents) are
rejects of the day they arrived: they count on both sides.
Counting from the objects, not through the catalog's view, means a record the flatten
loses, an object the query did not see (a wrong projection template, a partition that
is not there) or a rejected record that was not written all fail the check.

The objects are the ones the write step listed and read (its ``raw_objects``, key with
size and ETag), not a listing taken at audit time: an object landing between the write
and the audit belongs to the next run of the day, and must not fail this one.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Mapping
from typing import Any

from iot_lake import config
from iot_lake.config import LakeSettings
from iot_lake.errors import ReconciliationError
from iot_lake.storage import filesystem, join, list_objects
from iot_lake.wap.steps import one_row
from iot_lake.weather.layout import UNDATED, arrival_prefix, day_prefix
from iot_lake.weather.plan import SUMMARY_SQL

log = logging.getLogger(__name__)


def raw_objects(ds: str, settings: LakeSettings | None = None) -> list[str]:
    """URIs of the raw objects of day ``ds``'s window: ``day=ds`` + undated arrivals on ds."""
    return [entry["uri"] for entry in raw_snapshot(ds, settings)]


def raw_snapshot(ds: str, settings: LakeSettings | None = None) -> list[dict[str, Any]]:
    """The raw objects of day ``ds``'s window now: ``{"uri", "size", "etag"}`` each.

    The write step records this list and reads exactly these objects (typed_records.sql's
    ``raw_objects``); the audit reconciles against it, so an object that lands later is
    left to the next run of the day instead of failing this one. ``etag`` is S3's (None
    on a directory, where the size is what identifies a version of an object).
    """
    lake = settings or config.settings()
    # what the flatten reads: the whole day folder, and the undated objects that arrived
    # on ds (their folder says so; objects of other arrival days are not even listed)
    return [
        entry
        for prefix in (day_prefix(ds), arrival_prefix(UNDATED, ds))
        for entry in list_objects(join(lake.uri("raw"), prefix))
    ]


def staged_summary(ds: str, settings: LakeSettings | None = None) -> dict[str, int]:
    """The summary of the staged day ``ds`` (:data:`iot_lake.weather.plan.SUMMARY_SQL`):
    what the write says it did, when the audit is not handed the write's own figures."""
    from iot_lake.engine import get_engine

    lake = settings or config.settings()
    return one_row(get_engine(lake).query(SUMMARY_SQL, ds=ds).records())


def count_lines(data: bytes, name: str) -> int:
    """Records in one object as Hadoop's TextInputFormat splits it (\\n, \\r, \\r\\n)."""
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    return len(data.splitlines())


def raw_record_count(
    ds: str,
    settings: LakeSettings | None = None,
    recorded: list[Mapping[str, Any]] | None = None,
) -> dict[str, int]:
    """Objects and records (lines) of day ``ds``'s window, read from the objects.

    ``recorded`` is the write step's :func:`raw_snapshot`: exactly those objects are
    counted, each checked to be the version the write read (same size, same ETag);
    without it the window is listed now.
    """
    lake = settings or config.settings()
    objects = list(recorded) if recorded is not None else raw_snapshot(ds, lake)
    lines = 0
    for entry in objects:
        lines += count_lines(recorded_bytes(ds, entry), entry["uri"])
    return {"objects": len(objects), "records": lines}


def recorded_bytes(ds: str, entry: Mapping[str, Any]) -> bytes:
    """The bytes of an object the write recorded, if it is still the version it read."""
    fs, path = filesystem(entry["uri"])
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise ReconciliationError(
            f"weather day {ds}: object {entry['uri']}, read by the write, is gone; rerun "
            "the day", {},
        ) from None
    etag = info.get("ETag") or info.get("etag")
    if int(info.get("size") or 0) != int(entry["size"]) or (
        entry.get("etag") and etag != entry["etag"]
    ):
        raise ReconciliationError(
            f"weather day {ds}: object {entry['uri']} changed since the write read it "
            f"(size {entry['size']} -> {info.get('size')}, ETag {entry.get('etag')} -> "
            f"{etag}); rerun the day", {},
        )
    with fs.open(path, "rb") as handle:
        return handle.read()


def ingest_error_count(
    ds: str, settings: LakeSettings | None = None, recorded: list[Any] | None = None
) -> int:
    """Records of the day's ingestion error objects (:mod:`iot_lake.weather.ingest_errors`)."""
    from iot_lake.weather import ingest_errors

    objects = recorded if recorded is not None else ingest_errors.error_objects(ds, settings)
    return len(ingest_errors.reject_rows(objects, read=lambda e: recorded_bytes(ds, e)))


def reconcile_day(
    ds: str,
    settings: LakeSettings | None = None,
    written: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check raw records = observations + rejects + duplicates removed for day ``ds``.

    ``written`` is the write step's result, whose summary (read from the staged
    partitions, ``<curated>_staging``, when they were written) gives the lines read,
    duplicates removed, observations and rejects of the data under audit, and whose
    ``raw_objects`` are the objects it read (the raw side of the sum: an object that
    landed since is not counted); without it the staged day is summarized and the raw
    objects are listed now. Raises
    :class:`ReconciliationError` with every figure when they do not add up.
    """
    lake = settings or config.settings()
    recorded = (written or {}).get("raw_objects")
    raw = raw_record_count(ds, lake, recorded)
    errors = None if written is None else list(written.get("ingest_error_objects") or [])
    summary = dict(written) if written is not None else staged_summary(ds, lake)
    figures = {
        "raw_objects": raw["objects"],
        "raw_records": raw["records"],
        "ingest_errors": ingest_error_count(ds, lake, errors),
        "lines_read": int(summary["lines_read"]),
        "observations": int(summary["observations"]),
        "rejects": int(summary["rejects"]),
        "duplicates_removed": int(summary["duplicates"]),
    }
    accounted = figures["observations"] + figures["rejects"] + figures["duplicates_removed"]
    arrived = figures["raw_records"] + figures["ingest_errors"]
    problems = []
    if figures["lines_read"] != figures["raw_records"]:
        problems.append(
            f"the flatten's query read {figures['lines_read']} records but the raw objects "
            f"hold {figures['raw_records']} (objects missing from the table's view?)"
        )
    if accounted != arrived:
        problems.append(
            f"raw records {figures['raw_records']} + ingestion errors "
            f"{figures['ingest_errors']} = {arrived} != observations "
            f"{figures['observations']} + rejects {figures['rejects']} + duplicates removed "
            f"{figures['duplicates_removed']} = {accounted}"
        )
    if problems:
        raise ReconciliationError(
            f"weather day {ds} does not reconcile: " + "; ".join(problems)
            + f" (figures: {figures})",
            figures,
        )
    log.info("weather day %s reconciles: %s", ds, figures)
    return figures


def check_results(figures: Mapping[str, int], table: str) -> list[Any]:
    """The reconciliation as common.sql check results (what the quality listener records)."""
    from airflow.providers.common.sql.operators.sql import SQLCheckResult

    accounted = figures["observations"] + figures["rejects"] + figures["duplicates_removed"]
    arrived = figures["raw_records"] + figures.get("ingest_errors", 0)
    return [
        SQLCheckResult(
            name="raw_records_accounted_for",
            check_type="reconciliation",
            success=accounted == arrived,
            table=table,
            expected=str(arrived),
            actual=str(accounted),
            description="raw records + ingestion errors = observations + rejects + "
            "duplicates removed",
            params=dict(figures),
        ),
        SQLCheckResult(
            name="every_raw_record_read",
            check_type="reconciliation",
            success=figures["lines_read"] == figures["raw_records"],
            table=table,
            expected=str(figures["raw_records"]),
            actual=str(figures["lines_read"]),
            description="the flatten's query reads every record of the raw objects",
        ),
    ]


def reconcile_task(
    ds: str,
    task: Any,
    written: Mapping[str, Any] | None = None,
    settings: LakeSettings | None = None,
) -> dict[str, Any]:
    """:func:`reconcile_day` for a task: its outcome also lands in ``task.check_results``.

    ``written`` is the write task's result: its summary is what is reconciled (no query
    waits in this task) and its staged versions are named in the failure message: the
    published day is unchanged and the staged data is kept there for inspection.
    """
    lake = settings or config.settings()
    table = f"{lake.staging_database}.weather_observations"
    staged = list((written or {}).get("staged") or [])
    try:
        figures = reconcile_day(ds, lake, written)
    except ReconciliationError as err:
        # a recorded object gone or changed has no figures: no sum to record
        task.check_results = check_results(err.figures, table) if err.figures else []
        if staged:
            from iot_lake.wap.staging import StagedPartition

            where = "; ".join(StagedPartition.from_dict(s).describe() for s in staged)
            raise ReconciliationError(
                f"{err} The published partitions are unchanged. Staged data kept for "
                f"inspection: {where}",
                err.figures,
            ) from err
        raise
    task.check_results = check_results(figures, table)
    return figures
