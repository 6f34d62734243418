"""Weather records that never reached ``raw/weather/``: counted into the day's rejects.

A message the ingestion could not deliver is kept under ``<raw>/errors/``, by the hour
it arrived (UTC), in one of two shapes:

- ``errors/processing-failed/YYYY/MM/DD/HH/<stream>-1-<time>-<uuid>[.gz]``: Firehose's
  error output (the stream's ``ErrorOutputPrefix``
  ``errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/``). With dynamic
  partitioning a record Firehose cannot parse as JSON (IoT Core passes a non-JSON payload
  through ``SELECT *`` unchanged) lands here: one JSON line per record with the record
  base64-encoded in ``rawData`` and ``errorCode`` / ``errorMessage``. On `aws` this is
  where non-JSON payloads go.
- ``errors/iot-rule-failed/YYYY/MM/DD/HH/weather_to_firehose-<uuid>.json``: the error
  action of the IoT rule that feeds the stream, IoT Core's error document (original
  payload in ``base64OriginalPayload``, reasons in ``failures``). The local rules engine
  sends non-JSON payloads here (and on `aws` a failed PutRecord lands here too).

Both are the same loss seen by the lake: a record the day's flatten can never read. The
run of day D lists both folders of D (the write step records the objects with the raw
ones, :mod:`iot_lake.weather.operators`), turns every record into a ``weather_rejects``
row (source = the error object, reason = the ingestion's error, raw = the payload), adds
them to the staged rejects, and the reconciliation counts them on the raw side. The same
code reads both shapes on both backends, so a non-JSON payload is one reject of the day
it arrived, whichever backend received it.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from iot_lake import config, rejects
from iot_lake.config import LakeSettings
from iot_lake.storage import filesystem, join, list_objects

log = logging.getLogger(__name__)

FIREHOSE_ERRORS = "processing-failed"
RULE_ERRORS = "iot-rule-failed"
FIREHOSE_RULE = "weather_to_firehose"
"""The IoT rule that feeds the raw weather stream (include/iot/rules/); the cold-readings
rule's errors concern DynamoDB only: those messages still reached the lake."""
INGEST_ERRORS_FILE = "ingest-errors.parquet"


def error_objects(ds: str, settings: LakeSettings | None = None) -> list[dict[str, Any]]:
    """The error objects of the hours of day ``ds``: ``{"uri", "size", "etag", "kind"}``."""
    lake = settings or config.settings()
    out = []
    for kind in (FIREHOSE_ERRORS, RULE_ERRORS):
        uri = join(lake.uri("raw"), "errors", kind, *ds.split("-")) + "/"
        for entry in list_objects(uri):
            name = entry["uri"].rsplit("/", 1)[-1]
            if kind == RULE_ERRORS and not name.startswith(f"{FIREHOSE_RULE}-"):
                continue
            out.append({**entry, "kind": kind})
    return out


UNREADABLE = "not delivered to raw, and its error record is unreadable (kept as found)"


def _document(data: bytes) -> dict[str, Any] | None:
    """An error record as a JSON object, or None: a damaged one is still a reject."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _payload_text(data: bytes) -> str:
    """The payload as text; bytes that are not UTF-8 are kept as base64 (nothing lost)."""
    if data.endswith(b"\n"):  # the IoT rule's separator, added before Firehose
        data = data[:-1]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except (binascii.Error, ValueError):
        return str(value or "").encode()


def records_of(data: bytes, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reject rows of one error object (its bytes, its recorded entry)."""
    if data[:2] == b"\x1f\x8b":  # Firehose compresses its error output like its data
        data = gzip.decompress(data)
    uri, kind = entry["uri"], entry["kind"]
    rows = []
    if kind == RULE_ERRORS:
        doc = _document(data)
        if doc is None:
            return [rejects.record(uri, UNREADABLE, _payload_text(data))]
        failures = "; ".join(
            f"{f.get('failedAction', '?')} {f.get('failedResource', '')}: "
            f"{f.get('errorMessage', '')}".strip()
            for f in doc.get("failures") or []
        )
        rows.append(rejects.record(
            uri,
            f"not delivered to raw: IoT rule {doc.get('ruleName', FIREHOSE_RULE)} failed "
            f"({failures or 'no reason given'})",
            _payload_text(_b64(doc.get("base64OriginalPayload"))),
        ))
        return rows
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        doc = _document(line)
        if doc is None:
            rows.append(rejects.record(uri, UNREADABLE, _payload_text(line), number))
            continue
        code = doc.get("errorCode") or doc.get("ErrorCode") or "?"
        message = doc.get("errorMessage") or doc.get("ErrorMessage") or ""
        rows.append(rejects.record(
            uri,
            f"not delivered to raw: Firehose {kind} ({code}: {message})",
            _payload_text(_b64(doc.get("rawData"))),
            line_number=number,
        ))
    return rows


def reject_rows(
    objects: Iterable[Mapping[str, Any]], read: Any = None
) -> list[dict[str, Any]]:
    """Every record of the error objects as a reject row (``read(entry)`` gives bytes)."""
    def plain(entry: Mapping[str, Any]) -> bytes:
        fs, path = filesystem(entry["uri"])
        with fs.open(path, "rb") as handle:
            return handle.read()

    read = read or plain
    rows = []
    for entry in objects:
        rows += records_of(read(entry), entry)
    return rows


def add_to_staged_rejects(
    written: dict[str, Any],
    objects: list[dict[str, Any]],
    settings: LakeSettings | None = None,
) -> dict[str, Any]:
    """Write the error objects' records into the staged ``weather_rejects`` version.

    One more Parquet object in the staged partition (read with the rest by both engines),
    its rows added to the write's ``rejects`` figure; the result records the objects read
    (``ingest_error_objects``) and their records (``ingest_errors``) for the audit.
    """
    lake = settings or config.settings()
    rows = reject_rows(objects)
    result = {**written, "ingest_errors": len(rows), "ingest_error_objects": list(objects)}
    if not rows:
        return result
    staged = [dict(s) for s in written["staged"]]
    [target] = [s for s in staged if s["table"] == "weather_rejects"]
    rejects.write_parquet(join(target["location"], INGEST_ERRORS_FILE), rows,
                          lake.parquet_compression)
    if target.get("rows") is not None:
        target["rows"] = int(target["rows"]) + len(rows)
    log.warning("%d records that never reached raw (in %d error objects) added to %s",
                len(rows), len(objects), target["location"])
    return {**result, "staged": staged, "rejects": int(written["rejects"]) + len(rows)}
