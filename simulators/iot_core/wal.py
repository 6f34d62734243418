"""Write-ahead log: a message is on disk (fsynced) before the broker hears it was received.

The log is a directory of append-only segments ``wal-<first seq>.log``. Each record is
framed as ``<u32 length><u32 crc32>`` + ``<i64 arrival ms><u16 topic length>`` + topic +
payload, so a record torn by a crash is recognised and dropped on recovery (it was never
acknowledged, so the broker delivers it again). Records get consecutive sequence numbers;
once every record below a sequence number is delivered, :meth:`release` deletes the
segments that hold only such records.

Commits are grouped: many appends, one ``fdatasync``, then the caller acks the whole group.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

_FRAME = struct.Struct("<II")
_HEAD = struct.Struct("<qH")
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


class WalRecord(NamedTuple):  # a tuple: made per message, cheaper than a dataclass
    seq: int
    arrival_ms: int
    topic: str
    payload: bytes


def encode(arrival_ms: int, topic: str, payload: bytes) -> bytes:
    topic_bytes = topic.encode()
    body = _HEAD.pack(arrival_ms, len(topic_bytes)) + topic_bytes + payload
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def read_segment(path: Path, first_seq: int) -> tuple[list[WalRecord], bool]:
    """The intact records of one segment, and whether the segment ended cleanly."""
    data = path.read_bytes()
    records: list[WalRecord] = []
    pos = 0
    while pos < len(data):
        if pos + _FRAME.size > len(data):
            return records, False
        length, crc = _FRAME.unpack_from(data, pos)
        start = pos + _FRAME.size
        body = data[start : start + length]
        if len(body) < length or zlib.crc32(body) != crc or length < _HEAD.size:
            return records, False
        arrival_ms, topic_len = _HEAD.unpack_from(body)
        topic = body[_HEAD.size : _HEAD.size + topic_len].decode()
        payload = bytes(body[_HEAD.size + topic_len :])
        records.append(WalRecord(first_seq + len(records), arrival_ms, topic, payload))
        pos = start + length
    return records, True


class WriteAheadLog:
    """Segmented, group-committed log of received messages in one directory."""

    def __init__(
        self, directory: str | os.PathLike[str], segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._pending = bytearray()
        self._pending_count = 0
        self._fd: int | None = None
        self._segment_first = 0
        self._segment_size = 0
        self._closed: list[tuple[int, Path]] = []  # (first seq of the next segment, path)
        self._segments = self._existing_segments()
        self._recovered = not self._segments
        self.next_seq = 0

    def _existing_segments(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob("wal-*.log"):
            found.append((int(path.stem.split("-", 1)[1]), path))
        return sorted(found)

    def recover(self) -> Iterator[WalRecord]:
        """Yield every intact record left by a previous run, oldest first.

        Call before the first append. The old segments stay until :meth:`release`
        passes their last sequence number, so a crash during replay loses nothing.
        """
        for first_seq, path in self._segments:
            records, clean = read_segment(path, first_seq)
            if not clean:
                log.warning(
                    "WAL segment %s ends in a torn record after %d intact ones; the torn "
                    "message was never acknowledged and will be redelivered by the broker",
                    path.name,
                    len(records),
                )
            yield from records
            self.next_seq = max(self.next_seq, first_seq + len(records))
            self._closed.append((first_seq + len(records), path))
        self._recovered = True

    @property
    def recovered_segments(self) -> int:
        return len(self._segments)

    def append(self, arrival_ms: int, topic: str, payload: bytes) -> int:
        """Buffer one record for the next commit; return its sequence number."""
        return self.append_many([(arrival_ms, topic, payload)])[0].seq

    def append_many(self, entries: Iterable[tuple[int, str, bytes]]) -> list[WalRecord]:
        """Buffer ``(arrival ms, topic, payload)`` records for the next commit, in order.

        The framing of :func:`encode`, inlined (the hot path), one buffer extension for the
        whole group; returns the records with their sequence numbers.
        """
        if not self._recovered:
            raise RuntimeError(f"WAL {self.directory} holds old segments: call recover() first")
        seq = self.next_seq + self._pending_count
        first = seq
        records: list[WalRecord] = []
        parts: list[bytes] = []
        topics: dict[str, bytes] = {}
        head, frame, crc32 = _HEAD.pack, _FRAME.pack, zlib.crc32
        for arrival_ms, topic, payload in entries:
            topic_bytes = topics.get(topic)
            if topic_bytes is None:
                topic_bytes = topics[topic] = topic.encode()
            body = head(arrival_ms, len(topic_bytes)) + topic_bytes + payload
            parts.append(frame(len(body), crc32(body)))
            parts.append(body)
            records.append(WalRecord(seq, arrival_ms, topic, payload))
            seq += 1
        self._pending += b"".join(parts)
        self._pending_count += seq - first
        return records

    def commit(self) -> None:
        """Write the buffered records and fdatasync: after this they survive a crash."""
        if not self._pending_count:
            return
        if self._fd is None or self._segment_size >= self.segment_bytes:
            self._open_segment()
        assert self._fd is not None
        view = memoryview(self._pending)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fdatasync(self._fd)
        self._segment_size += len(self._pending)
        self.next_seq += self._pending_count
        self._pending = bytearray()
        self._pending_count = 0

    def _open_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._closed.append((self.next_seq, self._segment_path))
        self._segment_first = self.next_seq
        self._segment_path = self.directory / f"wal-{self.next_seq:020d}.log"
        self._fd = os.open(self._segment_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment_size = 0
        _fsync_dir(self.directory)

    def release(self, delivered_below: int) -> int:
        """Delete closed segments whose records all have seq < ``delivered_below``."""
        keep: list[tuple[int, Path]] = []
        removed = 0
        for end_seq, path in self._closed:
            if end_seq <= delivered_below:
                path.unlink(missing_ok=True)
                removed += 1
            else:
                keep.append((end_seq, path))
        self._closed = keep
        if removed:
            _fsync_dir(self.directory)
        return removed

    def rotate(self) -> None:
        """Close the current segment so that :meth:`release` can delete it once delivered."""
        if self._fd is not None and self._segment_size:
            os.close(self._fd)
            self._closed.append((self.next_seq, self._segment_path))
            self._fd = None

    def close(self) -> None:
        self.commit()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
