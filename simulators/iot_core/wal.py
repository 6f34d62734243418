"""The broker's write-ahead log, as the rules engine reads it.

Mosquitto's ``mosquitto_wal`` plugin (``broker_wal/mosquitto_wal.c``) appends every message
it accepts to this log *before* it acknowledges it, so an acknowledged message is on disk
whatever process dies next. The log is a directory of segments ``wal-<first seq>.log``;
each record is framed as ``<u32 length><u32 crc32>`` + ``<i64 arrival ms><u16 topic
length>`` + topic + payload. A record torn by a crash of the broker was never
acknowledged (the client sends it again).

The engine follows the log (:class:`WalTail`): a segment is *complete* once a later one
exists (the broker never appends to a segment after starting the next), and is deleted
(:meth:`WalTail.release`) only when complete, fully read and every record in it is
delivered. A crash of the engine therefore replays what was not yet released
(duplicates, never losses); a clean stop records how far it delivered (``reader-<n>.pos``)
so that a restart does not repeat the open segment.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

_FRAME = struct.Struct("<II")
_HEAD = struct.Struct("<qH")
READ_CHUNK = 4 * 1024 * 1024


class WalRecord(NamedTuple):  # a tuple: made per message, cheaper than a dataclass
    seq: int
    arrival_ms: int
    topic: str
    payload: bytes


def encode(arrival_ms: int, topic: str, payload: bytes) -> bytes:
    """One framed record, as the broker plugin writes it (tests and tools write with it)."""
    topic_bytes = topic.encode()
    body = _HEAD.pack(arrival_ms, len(topic_bytes)) + topic_bytes + payload
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def segment_name(first_seq: int) -> str:
    return f"wal-{first_seq:020d}.log"


def decode(
    data: bytes | memoryview, first_seq: int, limit: int | None = None
) -> tuple[list[WalRecord], int]:
    """The intact records at the start of ``data`` and the bytes they take.

    Decoding stops at the first incomplete or corrupt frame: at the end of a segment that
    is still being written, or at a record torn by a crash.
    """
    records: list[WalRecord] = []
    pos = 0
    end = len(data)
    unpack_frame, unpack_head, crc32 = _FRAME.unpack_from, _HEAD.unpack_from, zlib.crc32
    while pos + _FRAME.size <= end and (limit is None or len(records) < limit):
        length, crc = unpack_frame(data, pos)
        start = pos + _FRAME.size
        if length < _HEAD.size or start + length > end:
            break
        body = data[start : start + length]
        if crc32(body) != crc:
            break
        arrival_ms, topic_len = unpack_head(body)
        topic = bytes(body[_HEAD.size : _HEAD.size + topic_len]).decode("utf-8", "replace")
        payload = bytes(body[_HEAD.size + topic_len :])
        records.append(WalRecord(first_seq + len(records), arrival_ms, topic, payload))
        pos = start + length
    return records, pos


def read_segment(path: Path, first_seq: int) -> tuple[list[WalRecord], bool]:
    """The intact records of one segment, and whether the segment ended cleanly."""
    data = path.read_bytes()
    records, used = decode(data, first_seq)
    return records, used == len(data)


def end_seq(directory: Path) -> int:
    """The seq the broker gives its next record: what a reader has read once fully behind."""
    found = segments(directory)
    if not found:
        return 0
    first, path = found[-1]
    return first + len(read_segment(path, first)[0])


def segments(directory: Path) -> list[tuple[int, Path]]:
    """``(first seq, path)`` of every segment, oldest first."""
    found = []
    for entry in os.scandir(directory):
        name = entry.name
        if name.startswith("wal-") and name.endswith(".log"):
            try:
                found.append((int(name[4:-4]), Path(entry.path)))
            except ValueError:
                continue
    return sorted(found)


@dataclass
class _Segment:
    first_seq: int
    path: Path
    offset: int = 0  # bytes of intact records read so far
    count: int = 0  # records read so far
    fd: int | None = None

    @property
    def next_seq(self) -> int:
        return self.first_seq + self.count


class WalTail:
    """Follow the broker's log: this worker's segments, oldest first, record by record.

    With ``workers`` > 1 each segment belongs to one worker (by a hash of its name), so
    workers share the log without coordinating.
    """

    def __init__(self, directory: str | os.PathLike[str], worker: int = 0, workers: int = 1):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.worker = worker
        self.workers = workers
        self._open: dict[int, _Segment] = {}  # first seq -> segment still being read
        self._finished: list[_Segment] = []  # complete and fully read
        self._known: set[int] = set()
        self._checkpoint = self.directory / f"reader-{worker}.pos"
        self._resume = self._load_checkpoint()
        self.torn = 0
        self.read_to = 0  # next seq after the newest record read (tests wait on it)

    def _mine(self, path: Path) -> bool:
        return self.workers <= 1 or zlib.crc32(path.name.encode()) % self.workers == self.worker

    def _load_checkpoint(self) -> dict[int, tuple[int, int]]:
        """``{first seq: (offset, count)}`` delivered by a clean stop of this worker."""
        try:
            data = json.loads(self._checkpoint.read_text())
            return {int(k): (int(v[0]), int(v[1])) for k, v in data.items()}
        except (FileNotFoundError, ValueError, TypeError, IndexError):
            return {}

    def backlog(self) -> tuple[int, int]:
        """(segments, bytes) of this worker in the log right now: what a start replays."""
        found = [(s, p) for s, p in segments(self.directory) if self._mine(p)]
        return len(found), sum(p.stat().st_size for _, p in found if p.exists())

    def poll(self, max_records: int = 2000) -> list[WalRecord]:
        """The next records of this worker (at most ``max_records``), oldest first.

        A segment found complete and fully read becomes releasable: call :meth:`release`
        only after processing what this call returned.
        """
        found = segments(self.directory)
        newest = found[-1][0] if found else -1
        if len(self._known) > 2 * len(found) + 100:  # other workers' segments, long gone
            self._known &= {first for first, _ in found}
        for first, path in found:
            if first not in self._known:
                self._known.add(first)
                if self._mine(path):
                    segment = _Segment(first, path)
                    offset, count = self._resume.pop(first, (0, 0))
                    if 0 < offset <= path.stat().st_size:
                        segment.offset, segment.count = offset, count
                    self._open[first] = segment
        out: list[WalRecord] = []
        for first in sorted(self._open):
            segment = self._open[first]
            complete = first < newest  # decided before reading: nothing is added after
            while len(out) < max_records:
                records = self._read(segment, max_records - len(out))
                out.extend(records)
                if not records:
                    break
            if len(out) >= max_records:
                break
            if complete:
                self._finish(segment)
        return out

    def _read(self, segment: _Segment, limit: int) -> list[WalRecord]:
        if segment.fd is None:
            try:
                segment.fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return []
        data = os.pread(segment.fd, READ_CHUNK, segment.offset)
        if not data:
            return []
        records, used = decode(data, segment.next_seq, limit)
        segment.offset += used
        segment.count += len(records)
        self.read_to = max(self.read_to, segment.next_seq)
        return records

    def _finish(self, segment: _Segment) -> None:
        size = os.fstat(segment.fd).st_size if segment.fd is not None else segment.offset
        if size > segment.offset:
            self.torn += 1
            log.warning(
                "WAL segment %s ends in %d bytes of a torn record after %d intact ones: the "
                "broker died while writing it and never acknowledged it",
                segment.path.name,
                size - segment.offset,
                segment.count,
            )
        if segment.fd is not None:
            os.close(segment.fd)
            segment.fd = None
        del self._open[segment.first_seq]
        self._finished.append(segment)

    def release(self, delivered_below: int) -> int:
        """Delete finished segments whose records all have seq < ``delivered_below``."""
        keep: list[_Segment] = []
        removed = 0
        for segment in self._finished:
            if segment.next_seq <= delivered_below:
                segment.path.unlink(missing_ok=True)
                self._known.discard(segment.first_seq)
                removed += 1
            else:
                keep.append(segment)
        self._finished = keep
        return removed

    @property
    def finished_segments(self) -> int:
        return len(self._finished)

    def save_checkpoint(self) -> None:
        """Record how far the open segments are read; call only when all of it is delivered."""
        data = {str(s.first_seq): [s.offset, s.count] for s in self._open.values() if s.count}
        tmp = self._checkpoint.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self._checkpoint)

    def close(self) -> None:
        for segment in self._open.values():
            if segment.fd is not None:
                os.close(segment.fd)
                segment.fd = None
