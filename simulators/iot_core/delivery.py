"""Firehose-faithful buffered delivery to a directory or any fsspec/S3 destination.

Behaviour copied from Kinesis Data Firehose's S3 destination, so that what lands in the
local lake is laid out exactly like what Firehose writes on AWS:

- records are concatenated as they come (Firehose adds no delimiter; the IoT action's
  ``separator`` is what puts one record per line);
- dynamic partitioning: each record carries a partition key (the observation day,
  :func:`day_partition`, the same rule as the stream's JQ ``MetadataExtraction`` query in
  ``include/firehose/weather_stream.json``); every key has its own buffer;
- a buffer is flushed when it holds ``SizeInMBs`` (1-128, default 5) of uncompressed data
  or ``IntervalInSeconds`` (0-900, default 300) after its first record, whichever first;
- objects are GZIP-compressed and keyed
  ``weather/day=YYYY-MM-DD/arrived=YYYY-MM-DD/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``
  (``day=undated`` when the record has no valid ``time``), the ``arrived`` folder and
  the name in the UTC arrival time of the buffer's first record; ``!{timestamp:...}``,
  ``!{firehose:...}`` and ``!{partitionKeyFromQuery:...}`` prefix expressions are
  evaluated as Firehose does;
- every object appears whole or not at all (``iot_lake.storage.atomic_open``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iot_lake.storage import atomic_open, join
from simulators.iot_core.rule_sql import format_java_time

log = logging.getLogger(__name__)

MIB = 1024 * 1024
SIZE_MIB_RANGE = (1, 128)
INTERVAL_S_RANGE = (0, 900)
DEFAULT_SIZE_MIB = 5
DEFAULT_INTERVAL_S = 300
STREAM_VERSION = 1
DEFAULT_PREFIX = "weather/day=!{partitionKeyFromQuery:day}/arrived=!{timestamp:yyyy-MM-dd}/"
"""The stream's ``Prefix`` (weather_stream.json, less ``${raw_prefix}``): the day folder,
then the UTC arrival day of the object's oldest record, so a run reads only the undated
objects that arrived on its day (``day=undated/arrived=D/``)."""
DEFAULT_ERROR_OUTPUT_PREFIX = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
UNDATED = "undated"
STREAM_FILE = Path(__file__).resolve().parents[2] / "include" / "firehose" / "weather_stream.json"
_EXPRESSION = re.compile(r"!\{([A-Za-z-]+):([^}]*)\}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DAYS: dict[str, bool] = {}  # YYYY-MM-DD -> valid calendar date (a replay has few days)


def day_partition(record: Any) -> str:
    """The record's ``day`` partition key: ``time[0:10]`` when ``time`` is a string that
    starts with a valid calendar date ``YYYY-MM-DD`` followed by ``T``, else ``undated``.

    The Python twin of the stream's JQ query (:func:`day_query`); a test checks that both
    give the same key for generated records.
    """
    if isinstance(record, dict):
        time_value = record.get("time")
        if isinstance(time_value, str) and len(time_value) > 10 and time_value[10] == "T":
            day = time_value[:10]
            valid = _DAYS.get(day)
            if valid is None:
                valid = _valid_day(day)
                if len(_DAYS) < 100_000:
                    _DAYS[day] = valid
            if valid:
                return day
    return UNDATED


def _valid_day(day: str) -> bool:
    if not _DAY.fullmatch(day):
        return False
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return False
    return True


def day_query() -> str:
    """The JQ-1.6 ``MetadataExtractionQuery`` of the AWS stream (weather_stream.json)."""
    document = json.loads(STREAM_FILE.read_text())
    processors = document["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"]
    for processor in processors["Processors"]:
        if processor["Type"] == "MetadataExtraction":
            for parameter in processor["Parameters"]:
                if parameter["ParameterName"] == "MetadataExtractionQuery":
                    return str(parameter["ParameterValue"])
    raise KeyError(f"{STREAM_FILE}: no MetadataExtractionQuery")


class DeliveryConfigError(ValueError):
    """A delivery setting is outside what the Firehose API accepts."""


@dataclass(frozen=True)
class BufferingHints:
    """Firehose ``BufferingHints`` with the API's ranges and defaults."""

    size_mib: int = DEFAULT_SIZE_MIB
    interval_s: int = DEFAULT_INTERVAL_S

    def __post_init__(self) -> None:
        low, high = SIZE_MIB_RANGE
        if not (isinstance(self.size_mib, int) and low <= self.size_mib <= high):
            raise DeliveryConfigError(
                f"buffer size {self.size_mib!r} MiB is outside Firehose's range {low}-{high}"
            )
        low, high = INTERVAL_S_RANGE
        if not (isinstance(self.interval_s, int) and low <= self.interval_s <= high):
            raise DeliveryConfigError(
                f"buffer interval {self.interval_s!r} s is outside Firehose's range {low}-{high}"
            )

    @property
    def size_bytes(self) -> int:
        return self.size_mib * MIB


@dataclass(frozen=True)
class StreamConfig:
    """One delivery stream: name, destination bucket root, prefixes, buffering, GZIP."""

    name: str
    destination_uri: str
    prefix: str = DEFAULT_PREFIX
    error_output_prefix: str = DEFAULT_ERROR_OUTPUT_PREFIX
    hints: BufferingHints = field(default_factory=BufferingHints)
    gzip_level: int = 6

    @property
    def dynamic_partitioning(self) -> bool:
        return "!{partitionKeyFromQuery:" in self.prefix

    def s3_destination_configuration(self, bucket_arn: str, role_arn: str) -> dict[str, Any]:
        """The ``ExtendedS3DestinationConfiguration`` that makes Firehose on AWS do the same.

        AWS requires a buffer of at least 64 MiB with dynamic partitioning.
        """
        extra: dict[str, Any] = {}
        if self.dynamic_partitioning:
            extra = {
                "DynamicPartitioningConfiguration": {
                    "Enabled": True,
                    "RetryOptions": {"DurationInSeconds": 300},
                },
                "ProcessingConfiguration": {
                    "Enabled": True,
                    "Processors": [
                        {
                            "Type": "MetadataExtraction",
                            "Parameters": [
                                {
                                    "ParameterName": "MetadataExtractionQuery",
                                    "ParameterValue": day_query(),
                                },
                                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                            ],
                        }
                    ],
                },
            }
        return extra | {
            "RoleARN": role_arn,
            "BucketARN": bucket_arn,
            "Prefix": self.prefix,
            "ErrorOutputPrefix": self.error_output_prefix,
            "BufferingHints": {
                "SizeInMBs": max(self.hints.size_mib, 64)
                if self.dynamic_partitioning
                else self.hints.size_mib,
                "IntervalInSeconds": self.hints.interval_s,
            },
            "CompressionFormat": "GZIP",
        }


def render_prefix(
    prefix: str,
    arrival: dt.datetime,
    error_output_type: str = "",
    partition_keys: dict[str, str] | None = None,
) -> str:
    """Evaluate Firehose's custom-prefix expressions; no expression means ``YYYY/MM/dd/HH/``."""
    if "!{" not in prefix:
        return f"{prefix}{arrival:%Y/%m/%d/%H}/"

    def expand(match: re.Match[str]) -> str:
        namespace, argument = match.groups()
        if namespace == "timestamp":
            return format_java_time(argument, arrival)
        if namespace == "firehose" and argument == "error-output-type":
            if not error_output_type:
                raise DeliveryConfigError("!{firehose:error-output-type} is for error prefixes")
            return error_output_type
        if namespace == "firehose" and argument == "random-string":
            return uuid.uuid4().hex[:11]
        if namespace == "partitionKeyFromQuery":
            if not partition_keys or argument not in partition_keys:
                raise DeliveryConfigError(f"no partition key {argument!r} for {match.group(0)}")
            return partition_keys[argument]
        raise DeliveryConfigError(f"unsupported Firehose prefix expression {match.group(0)}")

    return _EXPRESSION.sub(expand, prefix)


def object_key(
    config: StreamConfig,
    arrival: dt.datetime,
    error_output_type: str = "",
    partition: str = UNDATED,
) -> str:
    """``<prefix><stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`` for a buffer's first arrival."""
    prefix = config.error_output_prefix if error_output_type else config.prefix
    folder = render_prefix(prefix, arrival, error_output_type, {"day": partition})
    return f"{folder}{config.name}-{STREAM_VERSION}-{arrival:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.gz"


@dataclass(frozen=True)
class Flushed:
    """What one flush delivered: the objects' URIs (``uri``: the first), records, per rule."""

    uri: str
    records: int
    by_rule: Counter[str]
    uris: tuple[str, ...] = ()


@dataclass
class _Buffer:
    """One partition's buffer (Firehose buffers every dynamic partition on its own)."""

    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    first_arrival_ms: int = 0
    opened_at: float = 0.0
    oldest_seq: int | None = None
    by_rule: Counter[str] = field(default_factory=Counter)


class FirehoseStream:
    """Size/interval buffers, one per partition key, that write GZIP objects, like one
    Firehose delivery stream with dynamic partitioning.

    ``put`` records the WAL sequence number of every record, so the owner knows which
    log records are safely delivered (:attr:`oldest_pending_seq`). Thread-safe: the
    service's loop puts while its flusher thread writes due buffers.
    """

    def __init__(
        self,
        config: StreamConfig,
        clock: Callable[[], float] = time.monotonic,
        on_flush: Callable[[Flushed], None] | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._on_flush = on_flush
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writing_seq: int | None = None
        self._buffers: dict[str, _Buffer] = {}
        self._size = 0
        self.objects_written = 0

    @property
    def buffered_bytes(self) -> int:
        return self._size

    @property
    def oldest_pending_seq(self) -> int | None:
        """WAL sequence of the oldest record not yet in a written object (None: none)."""
        with self._lock:
            pending = [b.oldest_seq for b in self._buffers.values() if b.oldest_seq is not None]
            if self._writing_seq is not None:
                pending.append(self._writing_seq)
        return min(pending) if pending else None

    def put(self, data: bytes, arrival_ms: int, seq: int, rule: str, key: str = UNDATED) -> bool:
        """Add one record (separator included) to partition ``key``; True when a buffer
        reached the size hint.

        The caller then calls :meth:`flush` (possibly from another thread), so a slow
        destination never fails a put: the record stays buffered and in the WAL.
        """
        return self.put_many([(data, arrival_ms, seq, rule, key)])

    def put_many(self, records: list[tuple[bytes, int, int, str, str]]) -> bool:
        """:meth:`put` for ``(data, arrival_ms, seq, rule, key)`` records in order, one lock."""
        if not records:
            return self.full
        limit = self.config.hints.size_bytes
        full = False
        with self._lock:
            buffers = self._buffers
            for data, arrival_ms, seq, rule, key in records:
                buffer = buffers.get(key)
                if buffer is None:
                    buffer = buffers[key] = _Buffer()
                if not buffer.chunks:
                    buffer.first_arrival_ms, buffer.oldest_seq = arrival_ms, seq
                    buffer.opened_at = self._clock()
                buffer.chunks.append(data)
                buffer.size += len(data)
                self._size += len(data)
                buffer.by_rule[rule] += 1
                full = full or buffer.size >= limit
        return full

    @property
    def full(self) -> bool:
        limit = self.config.hints.size_bytes
        return any(b.size >= limit for b in list(self._buffers.values()))

    def _ready(self, buffer: _Buffer, now: float) -> bool:
        return bool(buffer.chunks) and (
            buffer.size >= self.config.hints.size_bytes
            or now - buffer.opened_at >= self.config.hints.interval_s
        )

    def due(self) -> bool:
        """Whether a buffer's interval hint has elapsed since its first record (or it is full)."""
        now = self._clock()
        return any(self._ready(b, now) for b in list(self._buffers.values()))

    def flush(self, ready_only: bool = False) -> Flushed | None:
        """Write buffers as objects now (only the due/full ones with ``ready_only``).

        A buffer whose write fails stays intact (and the WAL with it); the error is raised
        after the other buffers had their chance.
        """
        uris: list[str] = []
        total: Counter[str] = Counter()
        failure: BaseException | None = None
        with self._write_lock:
            now = self._clock()
            with self._lock:
                keys = [
                    k
                    for k, b in self._buffers.items()
                    if b.chunks and (not ready_only or self._ready(b, now))
                ]
            for key in sorted(keys):
                try:
                    uri, by_rule = self._flush_one(key)
                except Exception as err:  # keep going: other partitions may be writable
                    failure = failure or err
                    continue
                uris.append(uri)
                total.update(by_rule)
        if failure is not None and not uris:
            raise failure
        if failure is not None:
            log.warning("stream %s: a buffer failed to write: %s", self.config.name, failure)
        if not uris:
            return None
        flushed = Flushed(uri=uris[0], records=sum(total.values()), by_rule=total, uris=tuple(uris))
        if self._on_flush is not None:
            self._on_flush(flushed)
        return flushed

    def _flush_one(self, key: str) -> tuple[str, Counter[str]]:
        with self._lock:
            buffer = self._buffers.pop(key)
            self._size -= buffer.size
            self._writing_seq = buffer.oldest_seq
        try:
            uri = self._write(buffer.chunks, buffer.first_arrival_ms, key)
        except BaseException:
            with self._lock:  # put it back in front of what arrived meanwhile
                self._writing_seq = None
                later = self._buffers.get(key)
                if later is not None:
                    buffer.chunks += later.chunks
                    buffer.size += later.size
                    buffer.by_rule += later.by_rule
                self._buffers[key] = buffer
                self._size += buffer.size - (later.size if later is not None else 0)
            raise
        with self._lock:
            self._writing_seq = None
        self.objects_written += 1
        return uri, buffer.by_rule

    def _write(self, chunks: list[bytes], first_arrival_ms: int, key: str) -> str:
        arrival = dt.datetime.fromtimestamp(first_arrival_ms / 1000, tz=dt.UTC)
        uri = join(self.config.destination_uri, object_key(self.config, arrival, partition=key))
        body = gzip.compress(b"".join(chunks), compresslevel=self.config.gzip_level, mtime=0)
        with atomic_open(uri) as handle:
            handle.write(body)
        log.debug("stream %s wrote %s (%d bytes)", self.config.name, uri, len(body))
        return uri
