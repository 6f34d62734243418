"""Firehose-faithful buffered delivery to a directory or any fsspec/S3 destination.

Behaviour copied from Kinesis Data Firehose's S3 destination, so that what lands in the
local lake is laid out exactly like what Firehose writes on AWS:

- records are concatenated as they come (Firehose adds no delimiter; the IoT action's
  ``separator`` is what puts one record per line);
- a buffer is flushed when it holds ``SizeInMBs`` (1-128, default 5) of uncompressed data
  or ``IntervalInSeconds`` (0-900, default 300) after its first record, whichever first;
- objects are GZIP-compressed and keyed
  ``<prefix>YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`` in the UTC arrival
  time of the buffer's first record; ``!{timestamp:...}`` / ``!{firehose:...}`` prefix
  expressions are evaluated as Firehose does;
- every object appears whole or not at all (``iot_lake.storage.atomic_open``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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
DEFAULT_PREFIX = "weather/!{timestamp:yyyy/MM/dd/HH}/"
DEFAULT_ERROR_OUTPUT_PREFIX = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
_EXPRESSION = re.compile(r"!\{([a-z-]+):([^}]*)\}")


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

    def s3_destination_configuration(self, bucket_arn: str, role_arn: str) -> dict[str, Any]:
        """The ``ExtendedS3DestinationConfiguration`` that makes Firehose on AWS do the same."""
        return {
            "RoleARN": role_arn,
            "BucketARN": bucket_arn,
            "Prefix": self.prefix,
            "ErrorOutputPrefix": self.error_output_prefix,
            "BufferingHints": {
                "SizeInMBs": self.hints.size_mib,
                "IntervalInSeconds": self.hints.interval_s,
            },
            "CompressionFormat": "GZIP",
        }


def render_prefix(prefix: str, arrival: dt.datetime, error_output_type: str = "") -> str:
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
        raise DeliveryConfigError(f"unsupported Firehose prefix expression {match.group(0)}")

    return _EXPRESSION.sub(expand, prefix)


def object_key(config: StreamConfig, arrival: dt.datetime, error_output_type: str = "") -> str:
    """``<prefix><stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`` for a buffer's first arrival."""
    prefix = config.error_output_prefix if error_output_type else config.prefix
    folder = render_prefix(prefix, arrival, error_output_type)
    return f"{folder}{config.name}-{STREAM_VERSION}-{arrival:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.gz"


@dataclass(frozen=True)
class Flushed:
    """What one flush delivered: the object's URI, how many records, per rule."""

    uri: str
    records: int
    by_rule: Counter[str]


class FirehoseStream:
    """A size/interval buffer that writes GZIP objects, like one Firehose delivery stream.

    ``put`` records the WAL sequence number of every record, so the owner knows which
    log records are safely delivered (:attr:`oldest_pending_seq`). Thread-safe: the
    service's receive loop puts while its ticker flushes on interval.
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
        self._reset()
        self.objects_written = 0

    def _reset(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._first_arrival_ms = 0
        self._opened_at = 0.0
        self._oldest_seq: int | None = None
        self._by_rule: Counter[str] = Counter()

    @property
    def buffered_bytes(self) -> int:
        return self._size

    @property
    def oldest_pending_seq(self) -> int | None:
        """WAL sequence of the oldest record not yet in a written object (None: none)."""
        with self._lock:
            pending = [seq for seq in (self._oldest_seq, self._writing_seq) if seq is not None]
        return min(pending) if pending else None

    def put(self, data: bytes, arrival_ms: int, seq: int, rule: str) -> bool:
        """Add one record (separator included); True when the size hint is reached.

        The caller then calls :meth:`flush` (possibly from another thread), so a slow
        destination never fails a put: the record stays buffered and in the WAL.
        """
        return self.put_many([(data, arrival_ms, seq, rule)])

    def put_many(self, records: list[tuple[bytes, int, int, str]]) -> bool:
        """:meth:`put` for ``(data, arrival_ms, seq, rule)`` records in order, one lock."""
        if not records:
            return self.full
        with self._lock:
            if not self._chunks:
                _, self._first_arrival_ms, self._oldest_seq, _ = records[0]
                self._opened_at = self._clock()
            self._chunks.extend([data for data, _, _, _ in records])
            self._size += sum([len(data) for data, _, _, _ in records])
            self._by_rule.update([rule for _, _, _, rule in records])
            return self._size >= self.config.hints.size_bytes

    @property
    def full(self) -> bool:
        return self._size >= self.config.hints.size_bytes

    def due(self) -> bool:
        """Whether the interval hint has elapsed since the buffer's first record."""
        return bool(self._chunks) and (
            self._clock() - self._opened_at >= self.config.hints.interval_s
        )

    def flush(self) -> Flushed | None:
        """Write the buffer as one object now; the buffer stays intact if writing fails."""
        with self._write_lock:
            with self._lock:
                if not self._chunks:
                    return None
                chunks, size, by_rule = self._chunks, self._size, self._by_rule
                first_ms, opened, oldest = self._first_arrival_ms, self._opened_at, self._oldest_seq
                self._writing_seq = oldest
                self._reset()
            try:
                uri = self._write(chunks, first_ms)
            except BaseException:
                with self._lock:  # put it back in front of what arrived meanwhile
                    self._writing_seq = None
                    self._chunks = chunks + self._chunks
                    self._size += size
                    self._by_rule = by_rule + self._by_rule
                    self._first_arrival_ms, self._opened_at = first_ms, opened
                    self._oldest_seq = oldest
                raise
            with self._lock:
                self._writing_seq = None
        flushed = Flushed(uri=uri, records=sum(by_rule.values()), by_rule=by_rule)
        self.objects_written += 1
        if self._on_flush is not None:
            self._on_flush(flushed)
        return flushed

    def _write(self, chunks: list[bytes], first_arrival_ms: int) -> str:
        arrival = dt.datetime.fromtimestamp(first_arrival_ms / 1000, tz=dt.UTC)
        uri = join(self.config.destination_uri, object_key(self.config, arrival))
        body = gzip.compress(b"".join(chunks), compresslevel=self.config.gzip_level, mtime=0)
        with atomic_open(uri) as handle:
            handle.write(body)
        log.debug("stream %s wrote %s (%d bytes)", self.config.name, uri, len(body))
        return uri
