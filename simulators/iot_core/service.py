"""The local IoT Core rules service: the broker's WAL -> rules -> delivery.

Mosquitto (mutual TLS, ``simulators/things``) writes every message it accepts to its
write-ahead log before it acknowledges it (the ``mosquitto_wal`` plugin). This service
follows that log (:class:`~simulators.iot_core.wal.WalTail`) in a single loop:

1. new records of the log go through the rules engine into the delivery buffers (a
   payload that cannot be parsed goes to the rule's error action, never stops the loop);
2. a background thread writes full or due buffers as GZIP objects;
3. log segments whose records are all in written objects (or DynamoDB, or the errors
   prefix) are deleted.

So nothing acknowledged is lost whichever process dies: the broker's backlog is on disk
before the PUBACK, and this service deletes only what it delivered; a restart replays
what it had not (duplicates are possible and removed downstream by
``(weather_station, time)``). SIGTERM/SIGINT flush every buffer, delete the delivered
segments and record how far the open segment is delivered, then exit.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iot_lake.config import LakeSettings, settings
from simulators.iot_core.delivery import BufferingHints, FirehoseStream, Flushed, StreamConfig
from simulators.iot_core.dynamodb import DynamoDBTableWriter, dynamodb_resource
from simulators.iot_core.engine import RulesEngine, Sinks
from simulators.iot_core.metrics import Metrics
from simulators.iot_core.rules import RULES_DIR, Rule, load_rules, raw_location
from simulators.iot_core.wal import WalTail

log = logging.getLogger(__name__)


@dataclass
class ServiceOptions:
    """Everything the service needs; :meth:`from_settings` fills in the defaults."""

    wal_dir: Path
    raw_uri: str
    rules_dir: Path = RULES_DIR
    worker: int = 0
    workers: int = 1
    hints: BufferingHints = field(default_factory=BufferingHints)
    gzip_level: int = 6
    batch: int = 2000
    poll_interval_s: float = 0.005
    metrics_interval_s: float = 60.0
    dynamodb_endpoint: str | None = None
    parent_pid: int | None = None  # a worker stops (flushing) when its parent is gone

    @classmethod
    def from_settings(cls, lake: LakeSettings | None = None, **overrides: Any) -> ServiceOptions:
        lake = lake or settings()
        given = {k: v for k, v in overrides.items() if v is not None}
        values: dict[str, Any] = {
            "wal_dir": Path(lake.home) / "iot_core" / "wal",
            "raw_uri": lake.uri("raw"),
            "dynamodb_endpoint": lake.dynamodb_endpoint if lake.is_local else None,
        }
        values.update(given)
        return cls(**values)


class RulesService:
    """One worker: its share of the broker's WAL, the rules engine and its delivery streams."""

    def __init__(self, options: ServiceOptions, lake: LakeSettings | None = None) -> None:
        self.options = options
        # --raw-uri wins over the settings everywhere (rule placeholders, error objects).
        self.lake = dataclasses.replace(lake or settings(), raw_uri=options.raw_uri)
        self.rules: list[Rule] = load_rules(options.rules_dir, self.lake)
        self.metrics = Metrics(rule.name for rule in self.rules)
        bucket, _, root = raw_location(self.lake)
        self.streams = {
            self.lake.firehose_stream: FirehoseStream(
                StreamConfig(
                    name=self.lake.firehose_stream,
                    destination_uri=options.raw_uri,
                    hints=options.hints,
                    gzip_level=options.gzip_level,
                ),
                on_flush=self._flushed,
            )
        }
        self._writers: dict[str, DynamoDBTableWriter] = {}
        self.engine = RulesEngine(
            self.rules,
            Sinks(
                streams=self.streams,
                table_writer=self._table_writer,
                bucket_roots={bucket: root},
                on_stream_full=self._schedule_flush,
            ),
            self.metrics,
        )
        self._prepare_tables()
        self.wal = WalTail(options.wal_dir, options.worker, options.workers)
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flush")
        self._flushing: dict[str, Future[Any]] = {}
        self._stop = threading.Event()
        self.processed = 0

    # --- wiring ------------------------------------------------------------------------

    def _table_writer(self, table: str) -> DynamoDBTableWriter:
        writer = self._writers.get(table)
        if writer is None:
            resource = dynamodb_resource(self.lake, self.options.dynamodb_endpoint)
            writer = self._writers[table] = DynamoDBTableWriter(resource, table)
        return writer

    def _prepare_tables(self) -> None:
        """Open the rules' tables now: the first cold reading should not pay for boto3."""
        for rule in self.rules:
            for action in rule.actions:
                if "dynamoDBv2" in action:
                    table = action["dynamoDBv2"]["putItem"]["tableName"]
                    try:
                        self._table_writer(table)
                    except Exception as err:  # reported again per message, as errors
                        log.warning("DynamoDB table %s is not usable yet: %s", table, err)

    def _flushed(self, flushed: Flushed) -> None:
        for rule, count in flushed.by_rule.items():
            self.metrics.add(rule, "delivered", count)

    def _schedule_flush(self, stream: FirehoseStream) -> None:
        running = self._flushing.get(stream.config.name)
        if running is not None and not running.done():
            return
        self._flushing[stream.config.name] = self._flusher.submit(self._flush_quietly, stream)

    def _flush_quietly(self, stream: FirehoseStream) -> None:
        try:
            stream.flush(ready_only=True)
        except Exception:  # the records stay buffered and logged; retried on the next tick
            log.exception("stream %s: writing an object failed; will retry", stream.config.name)
            time.sleep(1.0)

    # --- the loop ----------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Follow the WAL until :meth:`stop` (SIGTERM/SIGINT); replay comes first by itself.

        Only a normal end flushes and releases the log: after an unexpected error the
        process exits with the log intact, and the supervisor's restart replays it.
        """
        segments, size = self.wal.backlog()
        log.info(
            "worker %d/%d reading the write-ahead log %s (%d segments, %d bytes to replay)",
            self.options.worker,
            self.options.workers,
            self.options.wal_dir,
            segments,
            size,
        )
        next_tick = time.monotonic()
        next_metrics = time.monotonic() + self.options.metrics_interval_s
        try:
            while not self._stop.is_set():
                records = self.wal.poll(self.options.batch)
                if records:
                    self.engine.process(records)
                    self.processed += len(records)
                else:
                    self._stop.wait(self.options.poll_interval_s)
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + 0.1
                    self._tick()
                if now >= next_metrics:
                    next_metrics = now + self.options.metrics_interval_s
                    self.metrics.log()
                    self._log_position()
        except BaseException:
            log.exception("the service failed; the write-ahead log is kept for the restart")
            self._abandon()
            raise
        self.shutdown()

    def _log_position(self) -> None:
        """How far this worker has read the log: the exact "caught up" signal for tests."""
        log.info(
            "worker %d read the write-ahead log up to seq %d (%d records this run)",
            self.options.worker,
            self.wal.read_to,
            self.processed,
        )

    def _tick(self) -> None:
        if self.options.parent_pid is not None and os.getppid() != self.options.parent_pid:
            log.warning("parent process %d is gone: flushing and stopping", self.options.parent_pid)
            self.stop()
        for stream in self.streams.values():
            if stream.due() or stream.full:
                self._schedule_flush(stream)
        self._release_wal()

    def _release_wal(self) -> int:
        """Delete the finished segments all of whose records are in written objects."""
        pending = [s.oldest_pending_seq for s in self.streams.values()]
        pending = [seq for seq in pending if seq is not None]
        return self.wal.release(min(pending) if pending else sys.maxsize)

    def flush_all(self) -> list[Flushed]:
        """Write every buffer now (waits for a flush already running)."""
        for future in list(self._flushing.values()):
            future.result()
        flushed = [f for f in (s.flush() for s in self.streams.values()) if f is not None]
        return flushed

    def shutdown(self) -> None:
        """Write every buffer, delete the delivered segments, record the read position.

        The position is saved only when every buffer was written: then everything read
        so far is delivered, and a restart need not repeat the open segment.
        """
        try:
            self.flush_all()
            self._release_wal()
            if all(s.oldest_pending_seq is None for s in self.streams.values()):
                self.wal.save_checkpoint()
        finally:
            self.wal.close()
            self._flusher.shutdown(wait=True)
            self.metrics.log("final metrics")
            self._log_position()

    def _abandon(self) -> None:
        """After a failure: stop the flusher, delete nothing, keep every segment."""
        self._flusher.shutdown(wait=True, cancel_futures=True)
        self.wal.close()
        self.metrics.log("final metrics")


def install_signal_handlers(services: Sequence[RulesService]) -> None:
    def handle(signum: int, frame: Any) -> None:
        log.info("signal %s: flushing and stopping", signal.Signals(signum).name)
        for service in services:
            service.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
