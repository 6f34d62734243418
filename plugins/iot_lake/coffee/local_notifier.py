"""The local backend's S3 event notifications for the photos store, durable.

On ``aws`` S3 sends an ``ObjectCreated:Put`` event to the Lambda when a photo lands. Here
:func:`upload_photo` (the local "PutObject") writes the photo, then the event, each
atomically and fsynced, into a spool beside the lake:

    <home>/events/photos/pending/<ns>-<id>.json   written after the photo
                         attempts/...             how often a pending event failed
                         done/...                 handled (kept as a log)
                         rejected/...             the handler rejected the key (+ reason)
                         failed/...               failed for good: Lambda's invocation
                                                  record, for ``replay_failed``

:func:`drain` hands every pending event, oldest first, to the same
:func:`iot_lake.coffee.photo_handler.handler` the Lambda runs, and moves it to ``done/``
only after the handler returned (the row is committed by then). A photo that landed
while no notifier ran is processed by the next ``drain``; an event handled twice (a kill
between commit and move) hits the unique ``photo_key`` and changes nothing: at least
once delivery, exactly once in effect. ``rescan`` re-emits an event for every photo in
the store, for a photo whose uploader died between the photo and its event.

An event that fails is retried on every drain (so a database outage ends the moment the
database is back), but counted as Lambda counts the attempts of an asynchronous event:
three, at least one and then two minutes apart. After the third it goes to ``failed/`` as
the invocation record Lambda sends to the photo function's on-failure destination on
``aws``, shows on the Incidents page and waits for ``python -m
iot_lake.coffee.replay_failed``, as on ``aws``; the events behind it go on.

    python -m iot_lake.coffee.local_notifier            # drain what is pending, exit
    python -m iot_lake.coffee.local_notifier --watch    # keep draining (Ctrl-C stops)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iot_lake.coffee.photo_events import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, failure_record
from iot_lake.coffee.photo_handler import object_uri, photos_location, s3_event
from iot_lake.config import LakeSettings, settings

log = logging.getLogger(__name__)

Handler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]


def spool(lake: LakeSettings) -> Path:
    return Path(lake.home) / "events" / "photos"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def emit(lake: LakeSettings, bucket: str, key: str) -> Path:
    """Queue the S3 event of photo ``key`` in ``bucket``."""
    now = datetime.now(UTC)
    event = s3_event(bucket, key, now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), lake.region)
    path = spool(lake) / "pending" / f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.json"
    _write_atomically(path, json.dumps(event).encode())
    return path


def upload_photo(lake: LakeSettings, name: str, image: bytes) -> str:
    """The local PutObject of ``<photos prefix><name>``: the photo, then its event.

    The photos store is a directory or a bucket on an S3 endpoint (MinIO in compose);
    either way the event goes to the spool, since S3 notifies only after the write.
    """
    from iot_lake.storage import atomic_open

    if ".." in name.split("/") or name.startswith("/"):
        raise ValueError(f"photo name {name!r} must stay inside the photos store")
    bucket, prefix = photos_location(lake)
    key = f"{prefix}{name}"
    uri = object_uri(lake, bucket, key)
    with atomic_open(uri) as handle:
        handle.write(image)
    emit(lake, bucket, key)
    return uri


def rescan(lake: LakeSettings) -> int:
    """An event for every photo in the store (harmless: the insert is idempotent)."""
    from iot_lake.storage import filesystem

    bucket, prefix = photos_location(lake)
    fs, root = filesystem(lake.uri("photos"))
    root = root.rstrip("/")
    count = 0
    for path in sorted(fs.find(root)):
        name = path[len(root) :].lstrip("/")
        if name and not name.rsplit("/", 1)[-1].startswith("."):
            emit(lake, bucket, f"{prefix}{name}")
            count += 1
    return count


@dataclass
class DrainSummary:
    events: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: list[str] = field(default_factory=list)
    set_aside: int = 0
    """Events that failed MAX_ATTEMPTS times, moved to ``failed/`` for replay."""

    def line(self) -> str:
        return (
            f"photo events: handled={self.events} inserted={self.inserted} "
            f"duplicates={self.duplicates} rejected={self.rejected} failed={len(self.failed)} "
            f"set_aside={self.set_aside}"
        )


def _count_attempt(root: Path, name: str, now: float) -> int:
    """Record one failure of event ``name``; returns its attempts as Lambda counts them.

    A failure counts as a new attempt once Lambda's retry delay has passed since the last
    counted one (one minute, then two): a watcher draining every second does not use up
    an event's attempts within seconds.
    """
    path = root / "attempts" / name
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {"attempts": 0, "counted_at": None}
    attempts, counted_at = int(state["attempts"]), state["counted_at"]
    if attempts == 0 or now - float(counted_at) >= RETRY_DELAYS_SECONDS[attempts - 1]:
        attempts, counted_at = attempts + 1, now
        _write_atomically(path, json.dumps({"attempts": attempts, "counted_at": now}).encode())
    return attempts


def drain(
    lake: LakeSettings, handler: Handler | None = None, clock: Callable[[], float] = time.time
) -> DrainSummary:
    """Hand every pending event to the handler, oldest first; stop at the first failure.

    A failing event (database down ...) stays pending with everything after it, so the
    next drain retries in order; at its third attempt (see the module's doc) it goes to
    ``failed/`` instead and the drain goes on.
    """
    if handler is None:
        from iot_lake.coffee.photo_handler import handler as lambda_handler

        handler = lambda_handler
    root = spool(lake)
    summary = DrainSummary()
    for path in sorted((root / "pending").glob("*.json")):
        try:
            event = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:  # a damaged event: kept, never fatal
            record = {"raw": path.read_bytes().decode("utf-8", "replace"), "reason": str(exc)}
            _write_atomically(root / "rejected" / path.name, json.dumps(record).encode())
            path.unlink()
            summary.rejected += 1
            continue
        try:
            result = handler(event, None)
        except Exception as exc:
            attempts = _count_attempt(root, path.name, clock())
            summary.failed.append(f"{path.name}: {type(exc).__name__}: {exc}")
            if attempts < MAX_ATTEMPTS:
                log.warning("photo event %s failed (attempt %d), kept pending: %s",
                            path.name, attempts, exc)  # fmt: skip
                break
            log.error("photo event %s failed %d times, set aside for replay_failed: %s",
                      path.name, attempts, exc)  # fmt: skip
            record = failure_record(event, exc, attempts=attempts, request_id=path.stem)
            _write_atomically(root / "failed" / path.name, json.dumps(record).encode())
            path.unlink()
            (root / "attempts" / path.name).unlink(missing_ok=True)
            summary.set_aside += 1
            continue
        (root / "attempts" / path.name).unlink(missing_ok=True)
        summary.events += 1
        summary.inserted += int(result.get("inserted", 0))
        summary.duplicates += int(result.get("duplicates", 0))
        rejected = list(result.get("rejected") or [])
        summary.rejected += len(rejected)
        if rejected:
            record = {"event": event, "rejected": rejected}
            _write_atomically(root / "rejected" / path.name, json.dumps(record).encode())
            path.unlink()
        else:
            (root / "done").mkdir(parents=True, exist_ok=True)
            os.replace(path, root / "done" / path.name)
    return summary


def heartbeat(lake: LakeSettings) -> Path:
    """Touched after every drain of a watcher: its health check reads the age."""
    return spool(lake) / "heartbeat"


def watch(lake: LakeSettings, stop: threading.Event, interval: float = 1.0) -> DrainSummary:
    """Drain until ``stop`` is set; returns the totals."""
    total = DrainSummary()
    beat = heartbeat(lake)
    beat.parent.mkdir(parents=True, exist_ok=True)
    while not stop.is_set():
        found = drain(lake)
        beat.touch()
        total.events += found.events
        total.inserted += found.inserted
        total.duplicates += found.duplicates
        total.rejected += found.rejected
        total.set_aside += found.set_aside
        total.failed = [*total.failed, *found.failed][-10:]  # a long outage: the last ten
        stop.wait(interval)
    return total


def get_serves_events(lake: LakeSettings) -> bool:
    """Whether this notifier delivers the photo store's events: on ``local`` it does; on
    ``aws`` S3 itself notifies the Lambda."""
    return lake.is_local


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m iot_lake.coffee.local_notifier", description=__doc__.splitlines()[0]
    )
    p.add_argument("--watch", action="store_true", help="keep draining until Ctrl-C")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between drains")
    p.add_argument("--rescan", action="store_true", help="first re-emit every photo")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    lake = settings()
    if not get_serves_events(lake):
        parser().error("on aws S3 notifies the Lambda: the notifier serves IOT_LAKE_BACKEND=local")
    if args.rescan:
        sys.stderr.write(f"re-emitted {rescan(lake)} photo events\n")
    if args.watch:
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        summary = watch(lake, stop, args.interval)
    else:
        summary = drain(lake)
    for failure in summary.failed[:5]:
        sys.stderr.write(f"  failed: {failure}\n")
    sys.stderr.write(summary.line() + "\n")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
